import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's server span (a no-op one while tracing is off). */
    serverSpan?: Span;
  }
}

/**
 * A server span per request, child of the caller's `traceparent`, active while the request is
 * handled (so the mesh's spans are its children). Registered before the other hooks.
 */
export function registerTracing(app: FastifyInstance): void {
  const tracer = trace.getTracer('agentmesh');
  app.addHook('onRequest', (request, reply, done) => {
    // Probes and scrapes come every few seconds: a trace each would drown the tasks' traces.
    if (request.url.startsWith('/health') || request.url.startsWith('/metrics')) return done();
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(request.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': request.url.split('?')[0] } }, parent);
    request.serverSpan = span;
    // Streams and long polls may end without a response hook: the socket's close ends the span then.
    reply.raw.once('close', () => span.isRecording() && span.end());
    context.with(trace.setSpan(parent, span), done);
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = request.serverSpan;
    if (!span) return;
    const route = request.routeOptions.url ?? 'unmatched';
    span.updateName(`${request.method} ${route}`);
    span.setAttributes({ 'http.route': route, 'http.response.status_code': reply.statusCode });
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    if (span.isRecording()) span.end();
  });
}
