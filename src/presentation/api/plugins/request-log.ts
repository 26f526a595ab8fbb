import type { FastifyInstance } from 'fastify';
import { requestTraceId } from '../routes/request-trace.js';

export interface RequestLogOptions {
  /** Share of requests (0 to 1) whose body is logged too, redacted like every line. */
  bodySampleRate: number;
}

/**
 * One line per request, when it is answered: method, route template, status, duration, sizes,
 * the caller's key id and tenant (never the key), the request id and the caller's trace id.
 * 5xx lines are errors, 4xx warnings.
 */
export function registerRequestLog(app: FastifyInstance, options: RequestLogOptions): void {
  app.addHook('onResponse', async (request, reply) => {
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
