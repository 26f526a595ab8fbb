import { isTerminal, retryBackoffMs, type DomainEvent, type Task } from '../domain/index.js';
import type { MeshContext } from './mesh-context.js';
import type { Context } from '@opentelemetry/api';
import { agentInboxSubject, taskSettledSubject } from './subjects.js';
import { carrierOf, contextFrom, inSpan, recordSpan, SpanKind } from './tracing.js';
import { RepeatedErrorLog } from './repeated-error-log.js';

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;
const holdsLease = (t: Task | undefined) => t !== undefined && (t.status === 'assigned' || t.status === 'running') && t.agentId !== undefined;

const NO_DATA = new Uint8Array(0);

export interface AssignmentMessage {
  taskId: string;
  attempt: number;
}

export interface TrackedLease {
  tenantId: string;
  taskId: string;
  agentId: string;
  expiresAt: number;
}

/**
 * The one place a task change is committed. After the store accepts it, the in-memory state follows:
 * queue membership, agent load, lease and deadline tracking, waiters, and the assignment message.
 */
export class TaskLifecycle {
  /** Leases held right now, by task: bounded by the agents' total capacity. */
  readonly leases = new Map<string, TrackedLease>();
  /** Active tasks with a deadline: bounded by the active tasks. */
  readonly deadlines = new Map<string, { tenantId: string; taskId: string; deadline: number }>();

  /** While the store is away every background write fails: one line per interval, not one per task. */
  private readonly failedWrites: RepeatedErrorLog;

  constructor(private readonly ctx: MeshContext) {
    this.failedWrites = new RepeatedErrorLog(ctx.logger, 'background task write failed');
  }

  backoffFor(task: Task): number {
    const s = this.ctx.settings;
    return retryBackoffMs(task.attempts, s.retryBaseMs, s.retryCapMs, this.ctx.random.next());
  }

  /**
   * A new task is queued (and routed, if an agent is free) while its insert waits for the group
   * commit, so that its assignment joins the same row write: one commit, not two, between submit
   * and delivery. The assignment message goes out only after that commit. If the insert fails,
   * the assignment (same write) fails with it and the queue forgets the task.
   */
  async commitNew(change: { task: Task; events: DomainEvent[] }): Promise<Task> {
    const inserted = this.ctx.tasks.insert(change.task, change.events);
    this.follow(undefined, change.task);
    try {
      await inSpan('agentmesh.store.write', { attributes: { 'agentmesh.task_id': change.task.id, 'db.operation.name': 'insert' } }, undefined, () => inserted);
    } catch (error) {
      this.forgetNew(change.task);
      throw error;
    }
    if (change.task.parentId === undefined) this.ctx.metrics.taskSubmitted(change.task);
    return change.task;
  }

  /** Undoes what following a new task did, when its insert did not commit. */
  private forgetNew(task: Task): void {
    this.ctx.dispatcher.dequeue(task);
    this.deadlines.delete(key(task.tenantId, task.id));
    if (task.parentId === undefined) this.ctx.stats.submitted--;
  }

  async commit(before: Task, change: { task: Task; events: DomainEvent[] }): Promise<Task> {
    if (change.events.length === 0) return change.task;
    await this.ctx.tasks.save(change.task, change.events);
    this.follow(before, change.task);
    return change.task;
  }

  /**
   * For a change whose loss in a crash is harmless (the task was delivered: a restart would
   * deliver it again): the caller goes on before the commit, which merges with the task's next write.
   */
  commitInBackground(before: Task, change: { task: Task; events: DomainEvent[] }): Task {
    if (change.events.length === 0) return change.task;
    this.ctx.tasks
      .save(change.task, change.events)
      .catch((error: unknown) => this.failedWrites.error({ err: error, task_id: change.task.id }));
    this.follow(before, change.task);
    return change.task;
  }

  /** Rebuild in-memory state for a task loaded from the store at start. */
  recover(task: Task): void {
    if (holdsLease(task)) this.ctx.directory.restoreSlot(task.tenantId, task.agentId!);
    this.follow(undefined, task);
    // Assigned but maybe never delivered: the inbox message may have died with the last process.
    // A duplicate is harmless (a delivery checks the attempt; a second one of the same attempt is idempotent).
    if (task.status === 'assigned') this.publishAssignment(task);
  }

  private follow(before: Task | undefined, after: Task): void {
    const { ctx } = this;
    const k = key(after.tenantId, after.id);
    const now = ctx.clock.now();

    if (after.status === 'queued') {
      ctx.dispatcher.enqueue(after);
    } else if (before?.status === 'queued') {
      ctx.dispatcher.dequeue(after);
    }

    if (holdsLease(after)) {
      this.leases.set(k, { tenantId: after.tenantId, taskId: after.id, agentId: after.agentId!, expiresAt: after.leaseExpiresAt! });
    } else {
      this.leases.delete(k);
    }

    if (holdsLease(before) && !(holdsLease(after) && after.agentId === before!.agentId)) {
      // Only the agent's own success or failure counts for it; a cancel or a hand-back does not.
      const outcome =
        after.status === 'completed' ? 'completed' : after.status === 'canceled' || after.error?.code === 'agent_stopped' ? 'released' : 'failed';
      // A hand-back says nothing about the agent's speed.
      const latency = outcome === 'released' || before!.assignedAt === undefined ? undefined : now - before!.assignedAt;
      ctx.directory.releaseSlot(after.tenantId, before!.agentId!, outcome, latency, now);
      ctx.breakers.leaseSettled(after.tenantId, before!.agentId!, before!, after);
      ctx.dispatcher.slotFreed(after.tenantId, before!.agentId!);
    }

    if (after.deadline !== undefined && !isTerminal(after)) {
      this.deadlines.set(k, { tenantId: after.tenantId, taskId: after.id, deadline: after.deadline });
    } else {
      this.deadlines.delete(k);
    }

    if (after.status === 'assigned' && before?.status === 'queued') {
      ctx.stats.routed++;
      // The decision as a span: from when the task could go (its queue wait) to the assignment.
      const routed = recordSpan(
        'agentmesh.route',
        {
          attributes: { 'agentmesh.tenant': after.tenantId, 'agentmesh.task_id': after.id, 'agentmesh.strategy': after.routing.strategy, 'agentmesh.agent_id': after.agentId!, 'agentmesh.attempt': after.attempts },
          startTime: Math.min(after.availableAt, now),
        },
        contextFrom(after.traceContext),
      );
      this.publishAssignment(after, routed);
      ctx.metrics.taskRouted(after, Math.max(0, (after.assignedAt ?? now) - after.availableAt));
    }
    // A new task: queued, or completed at once from a kept result.
    if (before === undefined && (after.status === 'queued' || after.cached === true) && after.parentId === undefined) ctx.stats.submitted++;
    if (after.status === 'queued' && before !== undefined && before.status !== 'queued' && before.status !== 'dead_lettered') ctx.stats.retried++;

    if (isTerminal(after) && (before === undefined || !isTerminal(before))) {
      if (after.status === 'completed') {
        ctx.stats.completed++;
        ctx.skillResults.remember(after);
      }
      else if (after.status === 'failed') ctx.stats.failed++;
      else if (after.status === 'dead_lettered') ctx.stats.deadLettered++;
      else if (after.status === 'canceled') ctx.stats.canceled++;
      ctx.waiters.settled(after);
      // Callers waiting on other instances read the committed task when they hear of it.
      if (ctx.settings.clustered) ctx.broker.notify(taskSettledSubject(after.tenantId, after.id), NO_DATA);
      if (after.parentId !== undefined) ctx.dispatcher.copySettled(after);
      // Execution time only for a task that ended while an agent ran it (a retry keeps an old startedAt).
      const ran = before?.status === 'running' && after.startedAt !== undefined && after.finishedAt !== undefined;
      ctx.metrics.taskSettled(after, ran ? after.finishedAt! - after.startedAt! : undefined);
    }
  }

  private publishAssignment(task: Task, parent: Context = contextFrom(task.traceContext)): void {
    // The message names the task and attempt; the delivery reads the task, so inputs never ride the broker.
    const message: AssignmentMessage = { taskId: task.id, attempt: task.attempts };
    const data = Buffer.from(JSON.stringify(message));
    const published = recordSpan('agentmesh.publish', { kind: SpanKind.PRODUCER, attributes: { 'messaging.operation.type': 'publish', 'agentmesh.task_id': task.id } }, parent);
    // A lost publish is covered by the lease: it lapses and the task is routed again.
    const trace = carrierOf(published) ?? task.traceContext;
    // With the attempt, assigned-at names this assignment: a hand-back gives the attempt back and a
    // requeued dead letter counts from 1 again, so the next assignment may carry the same attempt.
    const headers: Record<string, string> = { 'task-id': task.id, attempt: String(task.attempts), 'assigned-at': String(task.assignedAt) };
    if (trace) {
      headers.traceparent = trace.traceparent;
      if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate;
    }
    this.ctx.broker
      .publish(agentInboxSubject(task.tenantId, task.agentId!), data, headers)
      .catch((error: unknown) => this.ctx.logger.warn({ err: error, task_id: task.id }, 'assignment publish failed; lease expiry will re-route'));
  }
}
