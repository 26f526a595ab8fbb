import { requeueDeadLetter, type Task } from '../../domain/index.js';
import { CAN_MANAGE_DEAD_LETTERS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import type { Page, PageRequest } from '../ports.js';
import { changeTask } from './work-task.js';

export function listDeadLetters(ctx: MeshContext, caller: Caller, capability: string | undefined, page: PageRequest): Promise<Page<Task>> {
  requireRole(caller, CAN_MANAGE_DEAD_LETTERS, 'list dead letters');
  return ctx.tasks.list(caller.tenantId, { status: 'dead_lettered', ...(capability !== undefined && { capability }) }, page);
}

/** Back to the queue with a fresh set of attempts. */
export function requeueDeadLetterUseCase(ctx: MeshContext, caller: Caller, id: string): Promise<Task> {
  requireRole(caller, CAN_MANAGE_DEAD_LETTERS, 'requeue dead letters');
  return changeTask(ctx, caller.tenantId, id, (t, now) => requeueDeadLetter(t, now));
}
