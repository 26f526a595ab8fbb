import { cancel, isTerminal, type Task } from '../../domain/index.js';
import { CAN_SUBMIT_TASKS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import { changeTask } from './work-task.js';

/** Cancels a task not yet settled; a broadcast parent cancels its copies too. */
export async function cancelTask(ctx: MeshContext, caller: Caller, id: string): Promise<Task> {
  requireRole(caller, CAN_SUBMIT_TASKS, 'cancel tasks');
  const task = await changeTask(ctx, caller.tenantId, id, (t, now) => cancel(t, now));
  if (task.routing.strategy === 'broadcast' && task.parentId === undefined) {
    const copies = await ctx.tasks.listCopies(caller.tenantId, task.id);
    await Promise.all(
      copies.map((c) => changeTask(ctx, caller.tenantId, c.id, (t, now) => (isTerminal(t) ? { task: t, events: [] } : cancel(t, now, 'broadcast canceled')))),
    );
  }
  return task;
}
