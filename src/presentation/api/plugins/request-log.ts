import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../../../config.js';
import { requestTraceId } from '../routes/request-trace.js';

export interface RequestLogOptions {
  /** Share of requests (0 to 1) whose body is logged too, redacted like every line. */
  bodySampleRate: number;
  /** Per route ("GET /v1/tasks/:id"): the share of its answered requests (below 400) that get a line; unlisted routes: all. */
  routeSampleRates?: ReadonlyMap<string, number>;
}

/** Refuses a sampled route that the API does not have (a typo would silently sample nothing). */
export function assertSampledRoutesExist(app: FastifyInstance, rates: ReadonlyMap<string, number>): void {
  for (const route of rates.keys()) {
    const [method, url] = route.split(' ') as [string, string];
    if (!app.hasRoute({ method: method as 'GET', url })) throw new ConfigError(`AGENTMESH_LOG_SAMPLE_ROUTES: the API has no route '${route}' (give route templates as in /openapi.json, with :id for {id})`);
  }
}

/**
 * One line per request, when it is answered: method, route template, status, duration, sizes,
 * the caller's key id and tenant (never the key), the request id and the caller's trace id.
 * 5xx lines are errors, 4xx warnings. A sampled route logs that share of its other lines (errors
 * and refusals always get theirs).
 */
export function registerRequestLog(app: FastifyInstance, options: RequestLogOptions): void {
  const routeRates = options.routeSampleRates !== undefined && options.routeSampleRates.size > 0 ? options.routeSampleRates : undefined;
  app.addHook('onResponse', async (request, reply) => {
    if (routeRates !== undefined && reply.statusCode < 400) {
      const rate = routeRates.get(`${request.method} ${request.routeOptions.url ?? ''}`);
      if (rate !== undefined && !(Math.random() < rate)) return;
    }
    const caller = request.caller as typeof request.caller | undefined;
    const traceId = requestTraceId(request);
    const sampled = options.bodySampleRate > 0 && request.body !== undefined && request.routeOptions.config.secretBody !== true && Math.random() < options.bodySampleRate;
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      path: request.url.split('?')[0],
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 10) / 10,
      req_bytes: Number(request.headers['content-length'] ?? 0),
      res_bytes: Number(reply.getHeader('content-length') ?? 0),
      ...(caller && { key_id: caller.keyId, tenant_id: caller.tenantId }),
      ...(traceId !== undefined && { trace_id: traceId }),
      ...(sampled && { body: request.body }),
    };
    if (reply.statusCode >= 500) request.log.error(line, 'request');
    else if (reply.statusCode >= 400) request.log.warn(line, 'request');
    else request.log.info(line, 'request');
  });
}
