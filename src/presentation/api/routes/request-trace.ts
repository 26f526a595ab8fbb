import { context, isSpanContextValid } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import { carrierOf } from '../../../application/tracing.js';
import { parseTraceContext, traceIdOf, type TraceContext } from '../../../domain/index.js';

/** The trace a request's work continues: its server span when tracing is on, else the caller's headers. */
export function requestTraceContext(request: FastifyRequest): TraceContext | undefined {
  return carrierOf(context.active()) ?? parseTraceContext(request.headers.traceparent, request.headers.tracestate);
}

/** The trace id to report for a request: its server span's when tracing is on (while off, that context is invalid), else the caller's. */
export function requestTraceId(request: FastifyRequest): string | undefined {
  const span = request.serverSpan?.spanContext();
  if (span && isSpanContextValid(span)) return span.traceId;
  const callers = parseTraceContext(request.headers.traceparent, undefined);
  return callers && traceIdOf(callers);
}
