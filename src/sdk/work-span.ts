import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { DeliveredTask } from './types.js';

/**
 * The agent's work as a span, child of the delivery the mesh traced. It records only when the
 * agent's process has an OpenTelemetry SDK registered; `carrier` then names it, so that the
 * settlement joins the same trace.
 */
export function startWorkSpan(task: DeliveredTask, agentId: string) {
  const parent = task.traceparent !== undefined ? propagation.extract(ROOT_CONTEXT, { traceparent: task.traceparent, ...(task.tracestate !== undefined && { tracestate: task.tracestate }) }) : ROOT_CONTEXT;
  const span = trace.getTracer('agentmesh-sdk').startSpan(
    'agentmesh.agent.work',
    { kind: SpanKind.CONSUMER, attributes: { 'agentmesh.task_id': task.id, 'agentmesh.capability': task.capability, 'agentmesh.agent_id': agentId, 'agentmesh.attempt': task.attempt } },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  const headers: Record<string, string> = {};
  propagation.inject(ctx, headers);
  return {
    // Only a span the agent's process records names a trace of its own.
    carrier: span.isRecording() && headers.traceparent !== undefined ? { traceparent: headers.traceparent, ...(headers.tracestate !== undefined && { tracestate: headers.tracestate }) } : undefined,
    /** Runs the handler with the span active, so its own spans are children. */
    run<T>(work: () => T): T {
      return context.with(ctx, work);
    },
    end(error?: unknown): void {
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : new Error(String(error)));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}
