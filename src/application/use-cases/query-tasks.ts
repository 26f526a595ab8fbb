import { isTerminal, NotFoundError, type Task } from '../../domain/index.js';
import { CAN_READ, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import type { Page, PageRequest, TaskFilter } from '../ports.js';

export const MAX_WAIT_MS = 60_000;

/**
 * A task of the caller's tenant as committed; with waitMs, waits until it settles, the wait runs
 * out, or `signal` aborts (the caller hung up: its place among the tenant's bounded waits is freed).
 */
export async function getTask(ctx: MeshContext, caller: Caller, id: string, waitMs = 0, signal?: AbortSignal): Promise<Task> {
  requireRole(caller, CAN_READ, 'read tasks');
  const task = await ctx.tasks.getCommitted(caller.tenantId, id);
  if (!task) throw new NotFoundError('task', id);
  if (waitMs <= 0 || isTerminal(task)) return task;
  const waiting = ctx.waiters.wait(caller.tenantId, id, Math.min(waitMs, MAX_WAIT_MS), signal);
  await ctx.waiters.listening(caller.tenantId, id);
  // It may have settled between the read and the wait.
  const again = await ctx.tasks.getCommitted(caller.tenantId, id);
  if (again && isTerminal(again)) return again;
  return (await waiting) ?? (await ctx.tasks.getCommitted(caller.tenantId, id)) ?? task;
}

export async function listTasks(ctx: MeshContext, caller: Caller, filter: TaskFilter, page: PageRequest): Promise<Page<Task>> {
  requireRole(caller, CAN_READ, 'list tasks');
  return ctx.tasks.list(caller.tenantId, filter, page);
}
