import {
  complete,
  extendLease,
  fail,
  LeaseNotHeldError,
  NotFoundError,
  start,
  type DomainEvent,
  type Task,
  type TaskError,
  type TraceContext,
} from '../../domain/index.js';
import { CAN_WORK_TASKS, requireActingAs, requireRole, type Caller } from '../caller.js';
import { contextFrom, inSpan } from '../tracing.js';
import type { MeshContext } from '../mesh-context.js';

/** Read-modify-commit of one task under its lock. */
export async function changeTask(
  ctx: MeshContext,
  tenantId: string,
  id: string,
  transition: (task: Task, now: number) => { task: Task; events: DomainEvent[] },
): Promise<Task> {
  return ctx.taskLocks.run(id, async () => {
    const task = await ctx.tasks.get(tenantId, id);
    if (!task) throw new NotFoundError('task', id);
    return ctx.lifecycle.commit(task, transition(task, ctx.clock.now()));
  });
}

/**
 * The agent has received the task: it is running. Throws LeaseNotHeldError when the delivery is
 * stale. The write is not awaited: delivery does not wait for a commit, and a lost "running"
 * only means a restart delivers the task again (at least once).
 */
export async function startTask(ctx: MeshContext, tenantId: string, id: string, agentId: string, attempt: number): Promise<Task> {
  const task = await ctx.taskLocks.run(id, async () => {
    const current = await ctx.tasks.get(tenantId, id);
    if (!current) throw new NotFoundError('task', id);
    if (current.attempts !== attempt) throw new LeaseNotHeldError(current.id, agentId);
    return ctx.lifecycle.commitInBackground(current, start(current, agentId, ctx.clock.now()));
  });
  ctx.stats.delivered++;
  return task;
}

/** The settlement as a span, child of the agent's work when its trace came along. */
function settling(name: string, caller: Caller, id: string, agentId: string, trace: TraceContext | undefined, work: () => Promise<Task>): Promise<Task> {
  const attributes = { 'agentmesh.tenant': caller.tenantId, 'agentmesh.task_id': id, 'agentmesh.agent_id': agentId };
  return inSpan(name, { attributes }, trace ? contextFrom(trace) : undefined, async (span) => {
    const task = await work();
    span.setAttribute('agentmesh.status', task.status);
    return task;
  });
}

/** Idempotent: the same agent completing twice gets the completed task back, and one event is stored. */
export function completeTask(ctx: MeshContext, caller: Caller, id: string, agentId: string, output: unknown, trace?: TraceContext): Promise<Task> {
  requireRole(caller, CAN_WORK_TASKS, 'complete tasks');
  requireActingAs(caller, agentId, 'complete tasks');
  return settling('agentmesh.complete', caller, id, agentId, trace, () => changeTask(ctx, caller.tenantId, id, (t, now) => complete(t, agentId, output, now, ctx.settings.taskLimits)));
}

export function failTask(ctx: MeshContext, caller: Caller, id: string, agentId: string, error: TaskError, retryable: boolean, trace?: TraceContext): Promise<Task> {
  requireRole(caller, CAN_WORK_TASKS, 'fail tasks');
  requireActingAs(caller, agentId, 'fail tasks');
  return settling('agentmesh.fail', caller, id, agentId, trace, () => changeTask(ctx, caller.tenantId, id, (t, now) => fail(t, agentId, error, retryable, ctx.lifecycle.backoffFor(t), now)));
}

export function extendTaskLease(ctx: MeshContext, caller: Caller, id: string, agentId: string, leaseMs: number): Promise<Task> {
  requireRole(caller, CAN_WORK_TASKS, 'extend leases');
  requireActingAs(caller, agentId, 'extend leases');
  return changeTask(ctx, caller.tenantId, id, (t, now) => extendLease(t, agentId, leaseMs, now, ctx.settings.taskLimits));
}
