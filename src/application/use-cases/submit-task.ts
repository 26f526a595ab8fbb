import equal from 'fast-deep-equal';
import type { Context } from '@opentelemetry/api';
import { completeFromCache, ConflictError, QuotaExceededError, submitTask, type SubmitTaskInput, type Task, type TraceContext } from '../../domain/index.js';
import { carrierOf, contextFrom, inSpan } from '../tracing.js';
import { CAN_SUBMIT_TASKS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import type { SubmitCounter } from '../submit-counter.js';
import { PLAIN } from '../../domain/plain.js';

export type SubmitRequest = Omit<SubmitTaskInput, 'id' | 'tenantId'>;

/**
 * Validates, checks quotas, stores the task and its TaskSubmitted event together, and queues it.
 * With an idempotency key, a repeat returns the first task (`created: false`) instead of a new one.
 */
export async function submitTaskUseCase(
  ctx: MeshContext,
  counter: SubmitCounter,
  caller: Caller,
  request: SubmitRequest,
): Promise<{ task: Task; created: boolean }> {
  requireRole(caller, CAN_SUBMIT_TASKS, 'submit tasks');
  const attributes = { 'agentmesh.tenant': caller.tenantId, 'agentmesh.capability': request.capability };
  return inSpan('agentmesh.submit', { attributes }, contextFrom(request.traceContext), async (span, spanContext) => {
    const result = await submitInSpan(ctx, counter, caller, { ...PLAIN, ...request, ...traceOf(spanContext, request) });
    span.setAttributes({ 'agentmesh.task_id': result.task.id, 'agentmesh.created': result.created });
    return result;
  });
}

/** The task carries the submit span's context onwards (or, with tracing off, the caller's). */
function traceOf(spanContext: Context, request: SubmitRequest): { traceContext?: TraceContext } {
  const traceContext = carrierOf(spanContext) ?? request.traceContext;
  return traceContext !== undefined ? { traceContext } : {};
}

async function submitInSpan(ctx: MeshContext, counter: SubmitCounter, caller: Caller, request: SubmitRequest): Promise<{ task: Task; created: boolean }> {
  const now = ctx.clock.now();
  const change = submitTask({ ...PLAIN, ...request, id: ctx.ids.newId(), tenantId: caller.tenantId }, now, ctx.settings.taskLimits);

  if (request.idempotencyKey !== undefined) {
    const existing = await ctx.tasks.findByIdempotencyKey(caller.tenantId, request.idempotencyKey);
    if (existing) return { task: sameRequest(existing, change.task, request.idempotencyKey), created: false };
  }
  const tenant = await ctx.tenants.get(caller.tenantId);
  if (tenant && counter.lastHour(caller.tenantId, now) >= tenant.quotas.maxTasksPerHour) {
    throw new QuotaExceededError(`tenant '${caller.tenantId}' has reached its quota of ${tenant.quotas.maxTasksPerHour} tasks per hour`, {
      quota: 'maxTasksPerHour',
      limit: tenant.quotas.maxTasksPerHour,
      retryAfterSeconds: 60,
    });
  }
  if (ctx.dispatcher.queuedCount(caller.tenantId) >= ctx.settings.maxQueuedPerTenant) {
    throw new QuotaExceededError(`tenant '${caller.tenantId}' has ${ctx.settings.maxQueuedPerTenant} tasks queued already`, {
      quota: 'maxQueuedPerTenant',
      limit: ctx.settings.maxQueuedPerTenant,
      retryAfterSeconds: 1,
    });
  }
  counter.record(caller.tenantId, now);
  // An identical task's kept result completes this one now, without an agent.
  const kept = await ctx.skillResults.lookup(change.task);
  try {
    return { task: await ctx.lifecycle.commitNew(kept ? completeFromCache(change, kept.output, now) : change), created: true };
  } catch (error) {
    // Two concurrent submits with one idempotency key: the loser returns the winner's task.
    if (error instanceof ConflictError && request.idempotencyKey !== undefined) {
      const existing = await ctx.tasks.findByIdempotencyKey(caller.tenantId, request.idempotencyKey);
      if (existing) return { task: sameRequest(existing, change.task, request.idempotencyKey), created: false };
    }
    throw error;
  }
}

/** A key reused for a different request is a client bug: say so rather than return the wrong task. */
function sameRequest(existing: Task, requested: Task, key: string): Task {
  const fields = (t: Task) => [t.capability, t.input, t.priority, t.routing, t.maxAttempts, t.leaseMs, t.deadline, t.secrets, t.contextId];
  if (!equal(fields(existing), fields(requested))) {
    throw new ConflictError(`Idempotency-Key '${key}' was used for a different request`, { idempotencyKey: key, taskId: existing.id });
  }
  return existing;
}
