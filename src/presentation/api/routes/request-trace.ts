import { context } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import { carrierOf } from '../../../application/tracing.js';
import { parseTraceContext, type TraceContext } from '../../../domain/index.js';

/** The trace a request's work continues: its server span when tracing is on, else the caller's headers. */
export function requestTraceContext(request: FastifyRequest): TraceContext | undefined {
  return carrierOf(context.active()) ?? parseTraceContext(request.headers.traceparent, request.headers.tracestate);
}
