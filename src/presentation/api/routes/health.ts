import { Type, type Static } from 'typebox';
import { requirePlatform } from '../../../application/caller.js';
import type { HealthCheckService } from '../../../application/health-check.js';
import type { Mesh } from '../../../application/mesh.js';
import { errors } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { PLAIN } from '../../../domain/plain.js';

const Check = Type.Object({ status: Type.Union([Type.Literal('up'), Type.Literal('down')]), error: Type.Optional(Type.String()) });
const Role = Type.Union([Type.Literal('standalone'), Type.Literal('leader'), Type.Literal('follower')], {
  description: 'What this instance does in the mesh: alone, the elected leader (queues, leases, registry), or a follower (API only)',
});
const Degraded = Type.Array(Type.String(), { description: 'Dependencies down that the mesh runs without, degraded (Redis: rate limits and quotas count per instance meanwhile)' });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  role: Role,
  checks: Type.Record(Type.String(), Check),
  degraded: Degraded,
});
const Breaker = Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open'), Type.Literal('isolated')]);
const Liveness = Type.Object({
  status: Type.Union([Type.Literal('alive'), Type.Literal('stalled')]),
  eventLoopDelayP99Ms: Type.Number(),
  eventLoopDelayMaxMs: Type.Number({ description: 'The longest block of the event loop since the last liveness check' }),
});
const Detailed = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy')]),
  role: Role,
  version: Type.String(),
  uptimeSeconds: Type.Integer(),
  eventLoopDelayP99Ms: Type.Number(),
  checks: Type.Record(Type.String(), Check),
  checkedAt: Type.Integer({ description: 'When the checks ran (epoch ms)' }),
  degraded: Degraded,
  breakers: Type.Record(Type.String(), Breaker, { description: "Each dependency's circuit breaker on this instance: open means its calls fail fast (503) until a probe succeeds" }),
  mesh: Type.Object({
    queuedTasks: Type.Integer(),
    leasesHeld: Type.Integer(),
    liveAgents: Type.Integer(),
    taskWaiters: Type.Integer(),
  }),
});

/**
 * Liveness: the event loop is not stalled. Readiness: the store and the broker answer (Redis down
 * degrades, and says so); results are reused for AGENTMESH_HEALTH_CACHE_MS. Detail, with the
 * circuit breakers, for the platform admin.
 */
export function healthRoutes(app: TypedApp, mesh: Mesh, health: HealthCheckService, version: string, breakers: () => Array<{ name: string; state: Static<typeof Breaker> }>): void {
  const tags = ['health'];
  app.get(
    '/health/live',
    { schema: { tags, summary: 'Liveness: the process answers and its event loop is not stalled (503 when it is)', security: [], response: { 200: Liveness, 503: Liveness } } },
    async (_request, reply) => {
      const { alive, eventLoopDelayP99Ms, eventLoopDelayMaxMs } = health.liveness();
      return reply.code(alive ? 200 : 503).send({ status: alive ? 'alive' : 'stalled', eventLoopDelayP99Ms, eventLoopDelayMaxMs });
    },
  );
  app.get(
    '/health/ready',
    {
      schema: {
        tags,
        summary: 'Readiness: store and broker reachable, and in a mesh of many the leader (503 when not); Redis down only degrades the mesh (200, named in degraded)',
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const { status, checks, degraded } = await health.getSystemHealth();
      const ready = status !== 'unhealthy';
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', role: mesh.role, checks, degraded });
    },
  );
  app.get(
    '/health',
    {
      schema: {
        tags,
        summary: 'Everything health knows, checked now: dependencies, event loop, role, the mesh in figures (the platform admin key only)',
        security: bearerSecurity,
        response: { 200: Detailed, 503: Detailed, ...errors(401, 403) },
      },
    },
    async (request, reply) => {
      // On the request, so that a refusal is audited like any other.
      request.caller ??= await app.authenticateRequest(request);
      requirePlatform(request.caller, 'read the detailed health');
      const systemHealth = await health.getSystemHealth({ useCache: false });
      const { ctx } = mesh;
      return reply.code(systemHealth.status === 'unhealthy' ? 503 : 200).send({
        ...PLAIN,
        ...systemHealth,
        breakers: Object.fromEntries(breakers().map((b) => [b.name, b.state])),
        role: mesh.role,
        version,
        mesh: { queuedTasks: ctx.dispatcher.totalQueued, leasesHeld: ctx.lifecycle.leases.size, liveAgents: [...ctx.directory.liveCountByTenant().values()].reduce((a, b) => a + b, 0), taskWaiters: ctx.waiters.count },
      });
    },
  );
}
