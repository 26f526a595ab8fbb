import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { TraceContext } from '../domain/index.js';

/**
 * The mesh's spans, through the OpenTelemetry API: with no tracer provider registered (tracing
 * off) every call here is a no-op of the API's own, so the hot path pays next to nothing.
 */
const agentmeshTracer = trace.getTracer('agentmesh');
// The API's proxy follows whichever provider is registered later: one lookup serves for good.
const tracer = () => agentmeshTracer;

/** The context a W3C carrier (a task's trace context, a message's headers) names; the root context when none. */
export function contextFrom(carrier: { traceparent?: string; tracestate?: string } | undefined): Context {
  if (carrier?.traceparent === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The W3C carrier of a context's span, or undefined when tracing is off (nothing to carry). */
export function carrierOf(ctx: Context): TraceContext | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (carrier.traceparent === undefined) return undefined;
  return carrier.tracestate !== undefined ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : { traceparent: carrier.traceparent };
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** When the span began, if before now (a wait in a queue). */
  startTime?: number;
}

function startSpan(name: string, options: SpanOptions, parent: Context): Span {
  const { kind = SpanKind.INTERNAL, attributes, startTime } = options;
  return tracer().startSpan(name, { kind, ...(attributes && { attributes }), ...(startTime !== undefined && { startTime }) }, parent);
}

/** Runs `work` in a span, child of `parent` (the active context by default); an error marks the span and goes on. */
export async function inSpan<T>(name: string, options: SpanOptions, parent: Context | undefined, work: (span: Span, ctx: Context) => Promise<T>): Promise<T> {
  const base = parent ?? context.active();
  const span = startSpan(name, options, base);
  const ctx = trace.setSpan(base, span);
  try {
    return await context.with(ctx, () => work(span, ctx));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}

/** A span that is over at once (a decision made, a message handed on), child of `parent`; returns its context. */
export function recordSpan(name: string, options: SpanOptions, parent: Context): Context {
  const span = startSpan(name, options, parent);
  span.end();
  return trace.setSpan(parent, span);
}

export { SpanKind };
