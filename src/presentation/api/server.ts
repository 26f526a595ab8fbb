import Fastify, { LogController, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Mesh } from '../../application/mesh.js';
import type { HealthCheckService } from '../../application/health-check.js';
import { registerAudit } from './plugins/audit.js';
import { registerAuthentication } from './plugins/authenticate.js';
import { registerGracefulClose } from './plugins/graceful-close.js';
import { clientErrors, frameworkErrors, MAX_PATH_PARAM_LENGTH, registerProblemDetails } from './plugins/problem-details.js';
import { assertSampledRoutesExist, registerRequestLog } from './plugins/request-log.js';
import { registerTracing } from './plugins/tracing.js';
import { trackRouteMethods } from './plugins/route-methods.js';
import { registerCors } from './plugins/cors.js';
import { registerRateLimit } from './plugins/rate-limit.js';
import type { RateLimiter } from '../../application/rate-limiter.js';
import type { AuthFailureLimiter } from '../../application/auth-failure-limiter.js';
import { DEFAULT_TENANT_ID } from '../../application/use-cases/bootstrap.js';
import { registerOperationIds } from './operation-ids.js';
import { refuseUnknownQueryParameters } from './strict-query.js';
import { holdChangesWhile } from './plugins/changes-held.js';
import { documentBodyErrors } from './body-errors.js';
import { registerJsonBodyParser } from './json-body.js';
import { registerSecurityHeaders } from './plugins/security-headers.js';
import { a2aRoutes } from './routes/a2a.js';
import { agentInboxRoutes } from './routes/agent-inbox.js';
import { agentRoutes } from './routes/agents.js';
import { auditRoutes } from './routes/audit.js';
import { complianceRoutes } from './routes/compliance.js';
import { secretRoutes } from './routes/secrets.js';
import { cacheRoutes } from './routes/cache.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes, type ApiMetrics } from './routes/metrics.js';
import { taskBatchRoutes } from './routes/task-batches.js';
import { taskRoutes } from './routes/tasks.js';
import { tenantRoutes } from './routes/tenants.js';
import { Problem } from './schemas.js';
import type { TypedApp } from './typed-app.js';
import { AJV_OPTIONS, bodyStrictValidators } from './validation.js';
import { PLAIN } from '../../domain/plain.js';

export interface ApiOptions {
  bodyLimitBytes: number;
  /** Counts requests and serves GET /metrics. */
  metrics?: ApiMetrics;
  /** Share of requests whose (redacted) body is logged; default none. */
  logBodySampleRate?: number;
  /** Per route template ("GET /v1/tasks/:id"): the share of its successful requests that get a log line. */
  logRouteSampleRates?: ReadonlyMap<string, number>;
  /** While this says why, every change through the API answers 503 (a follower that cannot reach the leader). */
  changesHeld?: () => string | undefined;
  logger: FastifyServerOptions['loggerInstance'] | false;
  /** How often a key's successful authentication is recorded in the audit log, per instance. */
  auditAuthSuccessIntervalMs: number;
  version: string;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Origins a browser may call the API from (CORS); none: no CORS headers at all. */
  corsOrigins?: readonly string[];
  /** How long a client may take to send a whole request (headers and body). */
  requestTimeoutMs?: number;
  /** Requests per minute per key and per tenant; none: no limits. */
  rateLimiter?: RateLimiter;
  /** Failed authentications per address per minute; none: no limit. */
  authFailureLimiter?: AuthFailureLimiter;
  /** Trust X-Forwarded-For from these proxies for the client's address (Fastify's trustProxy). */
  trustProxy?: boolean | number | string;
  /** Open A2A streams per tenant on this instance. */
  a2aMaxStreamsPerTenant?: number;
  /** Open SSE streams and long polls per agent on this instance (default 4); one more ends the agent's oldest. */
  maxInboxConnectionsPerAgent?: number;
  /** The URL clients reach the mesh at (behind a proxy), for the A2A agent card; unset: as each request came. */
  publicUrl?: string;
  /** Each dependency's circuit breaker, for the detailed health. */
  breakers?: () => Array<{ name: string; state: 'closed' | 'open' | 'half-open' | 'isolated' }>;
}

/** The REST API: OpenAPI at /openapi.json, Swagger UI at /docs, every error as problem+json. */
export async function buildApi(mesh: Mesh, health: HealthCheckService, options: ApiOptions): Promise<TypedApp> {
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const connectionsCheckingInterval = Math.min(5_000, Math.ceil(requestTimeout / 2));
  const app = Fastify({
    ...PLAIN,
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // Slow senders (slowloris) are cut off, checked often enough to keep the timeout; answers that take long (long polls, streams) are not.
    // (Node enforces it only when the server is made with it: Fastify's own option alone is not checked.)
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key, requestTimeout, connectionsCheckingInterval } } : { http: { requestTimeout, connectionsCheckingInterval } }),
    requestTimeout,
    bodyLimit: options.bodyLimitBytes,
    // A hop count as proxy-addr takes it: trust the n nearest hops (Fastify's types have no number).
    ...(options.trustProxy !== undefined && { trustProxy: typeof options.trustProxy === 'number' ? trustHops(options.trustProxy) : options.trustProxy }),
    // Our own line per request (registerRequestLog) replaces Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Sockets are destroyed only after registerGracefulClose has drained in-flight requests.
    forceCloseConnections: true,
    frameworkErrors,
    clientErrorHandler: clientErrors,
    // Ids and names longer than the router's default of 100 characters are valid (agents, tenants: 256).
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Types are coerced in the querystring, path and headers (text on the wire), never in a JSON body.
    ajv: { customOptions: { ...AJV_OPTIONS } },
    schemaController: { compilersFactory: bodyStrictValidators() },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as TypedApp;

  // Before any route is added: a wrong method on a path is a 405 naming the methods it has.
  const allowedMethods = trackRouteMethods(app);
  // Bodies are JSON: text/plain is refused like any other media type (415), not read as a string
  // that then fails the schema with a 400.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);
  app.addSchema(Problem);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'AgentMesh API',
        version: options.version,
        description: 'Register agents, submit tasks, receive and settle them. Errors are RFC 9457 problem+json.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'This mesh (relative to where this document was fetched)' }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An AgentMesh API key (am_...)' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // Served over plain HTTP on a private network, the UI must load its scripts over HTTP too.
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/u, ''),
  });
  registerOperationIds(app);
  documentBodyErrors(app);
  refuseUnknownQueryParameters(app);
  registerSecurityHeaders(app);
  await registerCors(app, options.corsOrigins ?? []);

  registerTracing(app);
  registerProblemDetails(app, allowedMethods);
  if (options.logger) registerRequestLog(app, { bodySampleRate: options.logBodySampleRate ?? 0, ...(options.logRouteSampleRates && { routeSampleRates: options.logRouteSampleRates }) });
  const gracefulClose = registerGracefulClose(app);
  app.addHook('preClose', async () => mesh.ctx.waiters.releaseAll());
  let lastCountersWarning = 0;
  const countersDown = (error: unknown) => {
    // Once in a while: every request would say the same.
    if (Date.now() - lastCountersWarning < 10_000) return;
    lastCountersWarning = Date.now();
    app.log.warn({ err: error }, 'rate limit counters unavailable: requests go through uncounted');
  };
  registerAuthentication(
    app,
    mesh.auth,
    options.authFailureLimiter && {
      limiter: options.authFailureLimiter,
      onBlocked: (address) => {
        options.metrics?.authAddressBlocked?.();
        app.log.warn({ source_ip: address }, 'too many failed authentications from this address: refused (429) until the minute has room');
      },
      onRefused: () => options.metrics?.rateLimited?.(DEFAULT_TENANT_ID, 'address'),
      onCountersDown: countersDown,
    },
  );
  if (options.rateLimiter) {
    registerRateLimit(app, options.rateLimiter, {
      onLimited: (tenantId, scope) => options.metrics?.rateLimited?.(tenantId, scope),
      onCountersDown: countersDown,
    });
  }
  registerAudit(app, mesh.audit, { authSuccessIntervalMs: options.auditAuthSuccessIntervalMs });
  if (options.changesHeld) holdChangesWhile(app, options.changesHeld);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  healthRoutes(app, mesh, health, options.version, options.breakers ?? (() => []));
  if (options.metrics) metricsRoutes(app, mesh, options.metrics);
  tenantRoutes(app, mesh);
  apiKeyRoutes(app, mesh, options.rateLimiter?.keyLimitCeiling);
  agentRoutes(app, mesh);
  agentInboxRoutes(app, mesh, {
    maxConnectionsPerAgent: options.maxInboxConnectionsPerAgent ?? 4,
    ...(options.metrics && { metrics: options.metrics }),
  });
  taskRoutes(app, mesh);
  taskBatchRoutes(app, mesh);
  deadLetterRoutes(app, mesh);
  auditRoutes(app, mesh);
  complianceRoutes(app, mesh);
  secretRoutes(app, mesh);
  await a2aRoutes(app, mesh, {
    version: options.version,
    maxStreamsPerTenant: options.a2aMaxStreamsPerTenant ?? 100,
    ...(options.publicUrl !== undefined && { publicUrl: options.publicUrl }),
    ...(options.metrics && { metrics: options.metrics }),
  });
  cacheRoutes(app, mesh);
  gracefulClose.drainLast();
  await app.ready();
  if (options.logRouteSampleRates) assertSampledRoutesExist(app, options.logRouteSampleRates);
  return app;
}

function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops;
}
