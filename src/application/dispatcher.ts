import {
  affinityOwner,
  assign,
  broadcastCopy,
  completeBroadcast,
  failUnroutable,
  fanOut,
  isTerminal,
  PriorityTaskQueue,
  selectAgent,
  type QueuedTask,
  type RoutingCandidate,
  type Task,
} from '../domain/index.js';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { MeshContext } from './mesh-context.js';
import { releaseTask } from './sweeper.js';

const key = (tenantId: string, capability: string) => `${tenantId}\u0000${capability}`;

/** Adds `delta` to a per-tenant count, dropping the tenant at zero (the map holds only tenants with some). */
function addCount(counts: Map<string, number>, tenantId: string, delta: number): void {
  const n = (counts.get(tenantId) ?? 0) + delta;
  if (n > 0) counts.set(tenantId, n);
  else counts.delete(tenantId);
}
const COMPLETION_RETRIES = 10;
/** How soon a broadcast held back for room in its tenant's queue is looked at again. */
const BROADCAST_RECHECK_MS = 100;
/** Round-robin positions outlive their queue state; the oldest are forgotten past this many. */
const MAX_ROUND_ROBIN_CURSORS = 10_000;

/**
 * Queued tasks of one tenant and capability, in three places: `ready` for any agent with a free
 * slot; `parked` behind one agent (affinity owner or broadcast target) until it frees a slot or
 * the membership changes; `delayed` in retry backoff until a timer. A pass over `ready` stops at
 * the first task that waits only for capacity, so its work is bounded by what it assigns or parks.
 */
interface QueueState {
  tenantId: string;
  capability: string;
  ready: PriorityTaskQueue;
  parked: Map<string, Map<string, QueuedTask>>;
  parkedOn: Map<string, string>;
  delayed: Map<string, QueuedTask>;
  wakeTimer?: NodeJS.Timeout;
  wakeAt?: number;
}

export class Dispatcher {
  private readonly queues = new Map<string, QueueState>();
  private readonly dirty = new Set<string>();
  private readonly queuedPerTenant = new Map<string, number>();
  /** Broadcast copies being made, per tenant: queued in all but name (bounded by the tenants). */
  private readonly copiesOnTheirWay = new Map<string, number>();
  private readonly roundRobinCursors = new Map<string, string>();
  private scheduled = false;
  private stopped = false;

  constructor(private readonly ctx: MeshContext) {}

  /** The tenant's queued tasks, broadcast copies being made included. */
  queuedCount(tenantId: string): number {
    return (this.queuedPerTenant.get(tenantId) ?? 0) + (this.copiesOnTheirWay.get(tenantId) ?? 0);
  }

  /** Queued tasks per tenant with any (bounded by the tenants). */
  queuedByTenant(): IterableIterator<[string, number]> {
    return this.queuedPerTenant.entries();
  }

  get totalQueued(): number {
    let n = 0;
    for (const v of this.queuedPerTenant.values()) n += v;
    return n;
  }

  get roundRobinCursorCount(): number {
    return this.roundRobinCursors.size;
  }

  /** Queue states held right now (bounded: an empty one is dropped). */
  get queueCount(): number {
    return this.queues.size;
  }

  enqueue(task: Task): void {
    const state = this.stateFor(task.tenantId, task.capability);
    if (state.ready.has(task.id) || state.delayed.has(task.id) || state.parkedOn.has(task.id)) return;
    const entry: QueuedTask = {
      id: task.id,
      priority: task.priority,
      strategy: task.routing.strategy,
      availableAt: task.availableAt,
      // Submission order, not the order of enqueueing: a task handed back or retried keeps its
      // place ahead of those submitted after it (equal times keep the order they came in).
      seq: task.createdAt,
      ...(task.routing.affinityKey !== undefined && { affinityKey: task.routing.affinityKey }),
      ...(task.targetAgentId !== undefined && { targetAgentId: task.targetAgentId }),
    };
    this.count(task.tenantId, +1);
    if (entry.availableAt > this.ctx.clock.now()) {
      state.delayed.set(entry.id, entry);
      this.scheduleWake(state, entry.availableAt);
    } else {
      state.ready.push(entry);
      this.markDirty(key(task.tenantId, task.capability));
    }
  }

  dequeue(task: Task): void {
    const state = this.queues.get(key(task.tenantId, task.capability));
    if (state && this.take(state, task.id)) this.dropIfEmpty(state);
  }

  /** The agent freed a slot: what waits for it alone may go, and its queues may move. */
  slotFreed(tenantId: string, agentId: string): void {
    const agent = this.ctx.directory.get(tenantId, agentId);
    if (!agent) return;
    for (const c of agent.capabilities) {
      const state = this.queues.get(key(tenantId, c.name));
      if (!state) continue;
      this.unpark(state, agentId);
      this.markDirty(key(tenantId, c.name));
    }
  }

  /**
   * An agent joined, left, paused, resumed or changed health: affinity owners may have moved and
   * pinned copies may have lost their agent, so everything parked in its queues is looked at again.
   */
  membershipChanged(tenantId: string, capabilities: readonly string[]): void {
    for (const capability of capabilities) {
      const state = this.queues.get(key(tenantId, capability));
      if (!state) continue;
      for (const agentId of [...state.parked.keys()]) this.unpark(state, agentId);
      this.markDirty(key(tenantId, capability));
    }
  }

  /** A broadcast copy ended: the parent completes once all copies have. Retried if the store fails. */
  copySettled(copy: Task, attempt = 1): void {
    const { ctx } = this;
    void this.completeBroadcastParent(copy.tenantId, copy.parentId!).catch((error: unknown) => {
      ctx.logger.error({ err: error, task_id: copy.parentId, attempt }, 'broadcast completion failed; will retry');
      if (attempt < COMPLETION_RETRIES && !this.stopped) setTimeout(() => this.copySettled(copy, attempt + 1), 250 * 2 ** attempt).unref();
    });
  }

  /** Completes a running broadcast parent whose copies have all ended (also run at start). */
  async completeBroadcastParent(tenantId: string, parentId: string): Promise<void> {
    const { ctx } = this;
    await ctx.taskLocks.run(parentId, async () => {
      const parent = await ctx.tasks.get(tenantId, parentId);
      if (!parent || isTerminal(parent)) return;
      const copies = await ctx.tasks.listCopies(tenantId, parent.id);
      if (copies.length === 0) return;
      await ctx.lifecycle.commit(parent, completeBroadcast(parent, copies, ctx.clock.now()));
    });
  }

  stop(): void {
    this.stopped = true;
    for (const state of this.queues.values()) clearTimeout(state.wakeTimer);
  }

  private count(tenantId: string, delta: number): void {
    addCount(this.queuedPerTenant, tenantId, delta);
  }

  private stateFor(tenantId: string, capability: string): QueueState {
    const k = key(tenantId, capability);
    let state = this.queues.get(k);
    if (!state) {
      state = { tenantId, capability, ready: new PriorityTaskQueue(), parked: new Map(), parkedOn: new Map(), delayed: new Map() };
      this.queues.set(k, state);
    }
    return state;
  }

  private dropIfEmpty(state: QueueState): void {
    if (state.ready.size > 0 || state.delayed.size > 0 || state.parkedOn.size > 0) return;
    clearTimeout(state.wakeTimer);
    this.queues.delete(key(state.tenantId, state.capability));
  }

  /** Removes a task from wherever it waits; true when it was there. */
  private take(state: QueueState, id: string): boolean {
    let found = state.ready.remove(id) || state.delayed.delete(id);
    const parkedAgent = state.parkedOn.get(id);
    if (parkedAgent !== undefined) {
      state.parkedOn.delete(id);
      const bucket = state.parked.get(parkedAgent);
      bucket?.delete(id);
      if (bucket?.size === 0) state.parked.delete(parkedAgent);
      found = true;
    }
    if (found) this.count(state.tenantId, -1);
    return found;
  }

  private park(state: QueueState, entry: QueuedTask, agentId: string): void {
    state.ready.remove(entry.id);
    let bucket = state.parked.get(agentId);
    if (!bucket) state.parked.set(agentId, (bucket = new Map()));
    bucket.set(entry.id, entry);
    state.parkedOn.set(entry.id, agentId);
  }

  private unpark(state: QueueState, agentId: string): void {
    const bucket = state.parked.get(agentId);
    if (!bucket) return;
    state.parked.delete(agentId);
    for (const id of bucket.keys()) state.parkedOn.delete(id);
    state.ready.pushMany(bucket.values());
  }

  private markDirty(k: string): void {
    this.dirty.add(k);
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    // A pass routes every tenant's tasks: it belongs to no request's trace, whichever request scheduled it.
    queueMicrotask(() => context.with(ROOT_CONTEXT, () => this.runPass()));
  }

  private runPass(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const k of keys) {
      const state = this.queues.get(k);
      if (state) this.dispatchQueue(state);
    }
  }

  private wakeDue(state: QueueState, now: number): void {
    let earliest = Infinity;
    const due: QueuedTask[] = [];
    for (const entry of state.delayed.values()) {
      if (entry.availableAt <= now) due.push(entry);
      else earliest = Math.min(earliest, entry.availableAt);
    }
    for (const entry of due) state.delayed.delete(entry.id);
    state.ready.pushMany(due);
    state.wakeAt = undefined;
    this.scheduleWake(state, earliest);
  }

  private dispatchQueue(state: QueueState): void {
    const { ctx } = this;
    const { tenantId, capability } = state;
    const now = ctx.clock.now();
    if (state.delayed.size > 0) this.wakeDue(state, now);
    if (state.ready.size === 0) return this.dropIfEmpty(state);
    const candidates = ctx.directory.candidates(tenantId, capability, now, ctx.settings.heartbeatTimeoutMs);
    if (candidates.length === 0) return;
    const byId = new Map(candidates.map((c) => [c.id, c]));
    let freeSlots = candidates.reduce((n, c) => n + Math.max(0, c.maxConcurrentTasks - c.inFlight), 0);
    let handled = 0;

    for (const entry of state.ready.inOrder()) {
      if (++handled > ctx.settings.dispatchScanLimit) {
        // Plenty of work: give I/O a turn before the next slice.
        setImmediate(() => this.markDirty(key(tenantId, capability)));
        break;
      }
      if (entry.strategy === 'broadcast' && entry.targetAgentId === undefined) {
        // Its copies would take the tenant past its bound on queued tasks (the parent counted one):
        // it waits until the queue drains below it, so the copies overshoot by one broadcast at most.
        if (this.queuedCount(tenantId) > ctx.settings.maxQueuedPerTenant) {
          this.scheduleWake(state, now + BROADCAST_RECHECK_MS);
          continue;
        }
        this.take(state, entry.id);
        this.fanOutBroadcast(tenantId, entry.id, candidates.map((c) => c.id));
        continue;
      }
      if (entry.targetAgentId !== undefined) {
        const target = byId.get(entry.targetAgentId);
        if (!target) {
          this.take(state, entry.id);
          this.failUnroutableCopy(tenantId, entry.id, entry.targetAgentId);
          continue;
        }
        if (target.inFlight >= target.maxConcurrentTasks) {
          this.park(state, entry, target.id);
          continue;
        }
        this.reserve(state, entry, target, now);
        freeSlots--;
        continue;
      }
      if (entry.strategy === 'affinity') {
        const owner = affinityOwner(candidates, entry.affinityKey ?? '')!;
        if (owner.inFlight >= owner.maxConcurrentTasks) {
          this.park(state, entry, owner.id);
          continue;
        }
        this.reserve(state, entry, owner, now);
        freeSlots--;
        continue;
      }
      if (freeSlots === 0) break;
      const k = key(tenantId, capability);
      const last = this.roundRobinCursors.get(k);
      const agentId = selectAgent(entry.strategy, candidates, last !== undefined ? { lastRoundRobinAgentId: last } : {});
      if (agentId === undefined) break;
      if (entry.strategy === 'round_robin') {
        this.roundRobinCursors.delete(k);
        this.roundRobinCursors.set(k, agentId);
        if (this.roundRobinCursors.size > MAX_ROUND_ROBIN_CURSORS) this.roundRobinCursors.delete(this.roundRobinCursors.keys().next().value!);
      }
      this.reserve(state, entry, byId.get(agentId)!, now);
      freeSlots--;
    }
    this.dropIfEmpty(state);
  }

  private reserve(state: QueueState, entry: QueuedTask, agent: RoutingCandidate, now: number): void {
    agent.inFlight++;
    agent.assignedCount++;
    this.take(state, entry.id);
    this.ctx.directory.reserveSlot(state.tenantId, agent.id, now);
    this.assignReserved(state.tenantId, entry.id, agent.id);
  }

  private scheduleWake(state: QueueState, at: number): void {
    if (at === Infinity || this.stopped || (state.wakeAt !== undefined && state.wakeAt <= at)) return;
    clearTimeout(state.wakeTimer);
    state.wakeAt = at;
    state.wakeTimer = setTimeout(() => {
      state.wakeAt = undefined;
      this.markDirty(key(state.tenantId, state.capability));
    }, Math.max(0, at - this.ctx.clock.now()));
    state.wakeTimer.unref();
  }

  private assignReserved(tenantId: string, taskId: string, agentId: string): void {
    const { ctx } = this;
    const undo = () => {
      ctx.directory.unreserveSlot(tenantId, agentId, ctx.clock.now());
      this.slotFreed(tenantId, agentId);
    };
    void ctx.taskLocks
      .run(taskId, async () => {
        const task = await ctx.tasks.get(tenantId, taskId);
        const agent = ctx.directory.get(tenantId, agentId);
        if (!task || task.status !== 'queued' || !agent || agent.status === 'paused' || agent.status === 'unhealthy') {
          undo();
          if (task?.status === 'queued') this.enqueue(task);
          return;
        }
        await ctx.lifecycle.commit(task, assign(task, agentId, ctx.clock.now()));
      })
      .then(async () => {
        // The agent may have left while the assignment was being written: hand the task back.
        const agent = ctx.directory.get(tenantId, agentId);
        if (!agent || agent.status === 'terminated' || agent.status === 'unhealthy') {
          await releaseTask(ctx, tenantId, taskId, 'agent_stopped', agentId);
        }
      })
      .catch(async (error: unknown) => {
        undo();
        const task = await ctx.tasks.get(tenantId, taskId).catch(() => undefined);
        // A new task whose insert failed shared its write with this assignment: its submitter got the error.
        if (!task) return;
        ctx.stats.routingErrors++;
        ctx.metrics.routingError(tenantId, task.capability);
        ctx.logger.error({ err: error, task_id: taskId, agent_id: agentId }, 'assignment failed; task stays queued');
        if (task.status === 'queued') this.enqueue(task);
      });
  }

  private failUnroutableCopy(tenantId: string, taskId: string, agentId: string): void {
    const { ctx } = this;
    void ctx.taskLocks
      .run(taskId, async () => {
        const task = await ctx.tasks.get(tenantId, taskId);
        if (!task) return;
        const message = `agent '${agentId}' is not available to take its broadcast copy`;
        await ctx.lifecycle.commit(task, failUnroutable(task, message, 'agent_unavailable', ctx.clock.now()));
      })
      .catch((error: unknown) => ctx.logger.error({ err: error, task_id: taskId }, 'failing an unroutable copy failed'));
  }

  /** Copies first, then the parent; if copies exist already (an earlier try died half way), they are reused. */
  private fanOutBroadcast(tenantId: string, parentId: string, agentIds: string[]): void {
    const { ctx } = this;
    addCount(this.copiesOnTheirWay, tenantId, agentIds.length);
    void ctx.taskLocks
      .run(parentId, async () => {
        const parent = await ctx.tasks.get(tenantId, parentId);
        if (!parent || parent.status !== 'queued') return;
        const now = ctx.clock.now();
        let copies = await ctx.tasks.listCopies(tenantId, parentId);
        if (copies.length === 0) {
          const created = agentIds.map((agentId, i) => broadcastCopy(parent, agentId, i, now));
          await ctx.tasks.insertMany(created);
          copies = created.map((c) => c.task);
        }
        await ctx.lifecycle.commit(parent, fanOut(parent, copies.map((c) => c.id), now));
        for (const copy of copies) if (copy.status === 'queued') ctx.lifecycle.recover(copy);
      })
      .catch(async (error: unknown) => {
        ctx.stats.routingErrors++;
        ctx.logger.error({ err: error, task_id: parentId }, 'broadcast fan-out failed; retrying shortly');
        const task = await ctx.tasks.get(tenantId, parentId).catch(() => undefined);
        ctx.metrics.routingError(tenantId, task?.capability ?? 'unknown');
        if (task?.status === 'queued') setTimeout(() => this.enqueue(task), 1000).unref();
      })
      .finally(() => addCount(this.copiesOnTheirWay, tenantId, -agentIds.length));
  }
}
