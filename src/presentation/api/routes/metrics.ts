import { requirePlatform } from '../../../application/caller.js';
import type { Mesh } from '../../../application/mesh.js';
import { errors } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';

/** What the API needs of the metrics: count its requests, and render the exposition. */
export interface ApiMetrics {
  recordHttpRequest(method: string, route: string, status: number, seconds: number): void;
  /** A request refused for its key's or its tenant's rate. */
  rateLimited?(tenantId: string, scope: 'key' | 'tenant' | 'address'): void;
  /** An address went over the failed-authentication limit. */
  authAddressBlocked?(): void;
  /** An A2A JSON-RPC request: its method (an A2A method name, or `other`) and how it was answered. */
  a2aRequest?(method: string, outcome: 'result' | 'error' | 'stream'): void;
  /** A tenant's open A2A streams went up or down by one. */
  a2aStreamsChanged?(tenantId: string, delta: 1 | -1): void;
  /** An A2A stream refused: its tenant had the most open it may. */
  a2aStreamRefused?(tenantId: string): void;
  /** A tenant's open agent inbox connections (SSE streams, long polls) went up or down by one. */
  inboxConnectionsChanged?(tenantId: string, delta: 1 | -1): void;
  /** An agent's oldest inbox connection was ended: the agent opened one past its bound. */
  inboxConnectionDisplaced?(tenantId: string): void;
  scrape(): Promise<{ contentType: string; body: string }>;
}

/**
 * `GET /metrics` for Prometheus. Its labels name tenants, so on the API's port it takes the
 * platform admin key (AGENTMESH_METRICS_PORT serves it without one, for a private network).
 */
export function metricsRoutes(app: TypedApp, mesh: Mesh, metrics: ApiMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.recordHttpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (OpenMetrics text); the platform admin key only',
        security: bearerSecurity,
        produces: ['application/openmetrics-text'],
        response: { 200: { type: 'string', description: 'OpenMetrics exposition' }, ...errors(401, 403) },
      },
    },
    async (request, reply) => {
      // On the request, so that a refusal is audited like any other.
      request.caller ??= await app.authenticateRequest(request);
      requirePlatform(request.caller, 'read metrics');
      const { contentType, body } = await metrics.scrape();
      return reply.type(contentType).send(body);
    },
  );
}
