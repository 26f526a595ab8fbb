import { Type } from '@fastify/type-provider-typebox';
import type { Mesh } from '../../../application/mesh.js';
import { checkDependencies } from '../../../application/health-check.js';
import type { HealthProbe } from '../../../application/ports.js';
import { type TypedApp } from '../typed-app.js';

const Check = Type.Object({ status: Type.Union([Type.Literal('up'), Type.Literal('down')]), error: Type.Optional(Type.String()) });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  /** What this instance does in the mesh: alone, the elected leader (queues, leases, registry), or a follower (API only). */
  role: Type.Union([Type.Literal('standalone'), Type.Literal('leader'), Type.Literal('follower')]),
  checks: Type.Record(Type.String(), Check),
});

/** Liveness: the process answers. Readiness: every dependency (store, broker, Redis when used) answers too. */
export function healthRoutes(app: TypedApp, mesh: Mesh, probes: Record<string, HealthProbe>): void {
  app.get('/health/live', { schema: { tags: ['health'], summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('alive') }) } } }, async () => ({ status: 'alive' as const }));
  app.get(
    '/health/ready',
    { schema: { tags: ['health'], summary: 'Readiness: store, broker and Redis (when used) reachable (503 when not)', response: { 200: Readiness, 503: Readiness } } },
    async (_request, reply) => {
      const checks = await checkDependencies(probes);
      const ready = Object.values(checks).every((c) => c.status === 'up');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', role: mesh.role, checks });
    },
  );
}
