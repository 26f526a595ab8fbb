import {
  assign,
  broadcastCopy,
  completeBroadcast,
  fanOut,
  isTerminal,
  PriorityTaskQueue,
  selectAgent,
  type QueuedTask,
  type Task,
} from '../domain/index.js';
import type { MeshContext } from './mesh-context.js';

const key = (tenantId: string, capability: string) => `${tenantId}\u0000${capability}`;

interface QueueState {
  tenantId: string;
  capability: string;
  queue: PriorityTaskQueue;
  lastRoundRobinAgentId?: string;
  wakeTimer?: NodeJS.Timeout;
  wakeAt?: number;
}

/**
 * Matches queued tasks to agents with free slots. Runs on a microtask after anything that can
 * make progress possible (a task queued, a slot freed, an agent joined), one pass per dirty queue.
 */
export class Dispatcher {
  private readonly queues = new Map<string, QueueState>();
  private readonly dirty = new Set<string>();
  private readonly queuedPerTenant = new Map<string, number>();
  private scheduled = false;
  private seq = 0;
  private stopped = false;

  constructor(private readonly ctx: MeshContext) {}

  queuedCount(tenantId: string): number {
    return this.queuedPerTenant.get(tenantId) ?? 0;
  }

  get totalQueued(): number {
    let n = 0;
    for (const v of this.queuedPerTenant.values()) n += v;
    return n;
  }

  enqueue(task: Task): void {
    const state = this.stateFor(task.tenantId, task.capability);
    if (state.queue.has(task.id)) return;
    const entry: QueuedTask = {
      id: task.id,
      priority: task.priority,
      strategy: task.routing.strategy,
      availableAt: task.availableAt,
      seq: this.seq++,
      ...(task.routing.affinityKey !== undefined && { affinityKey: task.routing.affinityKey }),
      ...(task.targetAgentId !== undefined && { targetAgentId: task.targetAgentId }),
    };
    state.queue.push(entry);
    this.queuedPerTenant.set(task.tenantId, this.queuedCount(task.tenantId) + 1);
    this.markDirty(key(task.tenantId, task.capability));
  }

  dequeue(task: Task): void {
    const state = this.queues.get(key(task.tenantId, task.capability));
    if (state?.queue.remove(task.id)) this.queuedPerTenant.set(task.tenantId, this.queuedCount(task.tenantId) - 1);
  }

  /** An agent's capacity or status changed: its capabilities' queues may move. */
  pokeAgent(tenantId: string, agentId: string): void {
    const agent = this.ctx.directory.get(tenantId, agentId);
    if (!agent) return;
    for (const c of agent.capabilities) {
      if (this.queues.has(key(tenantId, c.name))) this.markDirty(key(tenantId, c.name));
    }
  }

  /** A broadcast copy ended: the parent completes once all copies have. */
  copySettled(copy: Task): void {
    const { ctx } = this;
    void ctx.taskLocks
      .run(copy.parentId!, async () => {
        const parent = await ctx.tasks.get(copy.tenantId, copy.parentId!);
        if (!parent || isTerminal(parent)) return;
        const copies = await ctx.tasks.listCopies(copy.tenantId, parent.id);
        await ctx.lifecycle.commit(parent, completeBroadcast(parent, copies, ctx.clock.now()));
      })
      .catch((error: unknown) => ctx.logger.error({ err: error, task_id: copy.parentId }, 'broadcast completion failed'));
  }

  stop(): void {
    this.stopped = true;
    for (const state of this.queues.values()) clearTimeout(state.wakeTimer);
  }

  private stateFor(tenantId: string, capability: string): QueueState {
    const k = key(tenantId, capability);
    let state = this.queues.get(k);
    if (!state) this.queues.set(k, (state = { tenantId, capability, queue: new PriorityTaskQueue() }));
    return state;
  }

  private markDirty(k: string): void {
    this.dirty.add(k);
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    queueMicrotask(() => this.runPass());
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

  private dispatchQueue(state: QueueState): void {
    const { ctx } = this;
    const { tenantId, capability, queue } = state;
    if (queue.size === 0) return;
    const now = ctx.clock.now();
    const candidates = ctx.directory.candidates(tenantId, capability, now, ctx.settings.heartbeatTimeoutMs);
    if (candidates.length === 0) return;
    let freeSlots = candidates.reduce((n, c) => n + Math.max(0, c.maxConcurrentTasks - c.inFlight), 0);
    let earliestWake = Infinity;
    let scanned = 0;

    for (const entry of queue.inOrder()) {
      if (++scanned > ctx.settings.dispatchScanLimit) {
        this.markDirty(key(tenantId, capability));
        break;
      }
      if (entry.availableAt > now) {
        earliestWake = Math.min(earliestWake, entry.availableAt);
        continue;
      }
      if (entry.strategy === 'broadcast' && entry.targetAgentId === undefined) {
        this.takeFromQueue(tenantId, queue, entry.id);
        this.fanOutBroadcast(tenantId, entry.id, candidates.map((c) => c.id));
        continue;
      }
      if (freeSlots === 0) break;
      let agentId: string | undefined;
      if (entry.targetAgentId !== undefined) {
        const target = candidates.find((c) => c.id === entry.targetAgentId);
        agentId = target && target.inFlight < target.maxConcurrentTasks ? target.id : undefined;
      } else {
        agentId = selectAgent(entry.strategy, candidates, {
          ...(entry.affinityKey !== undefined && { affinityKey: entry.affinityKey }),
          ...(state.lastRoundRobinAgentId !== undefined && { lastRoundRobinAgentId: state.lastRoundRobinAgentId }),
        });
      }
      if (agentId === undefined) continue;

      const chosen = candidates.find((c) => c.id === agentId)!;
      chosen.inFlight++;
      chosen.assignedCount++;
      freeSlots--;
      if (entry.strategy === 'round_robin') state.lastRoundRobinAgentId = agentId;
      this.takeFromQueue(tenantId, queue, entry.id);
      ctx.directory.reserveSlot(tenantId, agentId, now);
      this.assignReserved(tenantId, entry.id, agentId);
    }
    this.scheduleWake(state, earliestWake);
  }

  private takeFromQueue(tenantId: string, queue: PriorityTaskQueue, id: string): void {
    if (queue.remove(id)) this.queuedPerTenant.set(tenantId, this.queuedCount(tenantId) - 1);
  }

  private scheduleWake(state: QueueState, at: number): void {
    if (at === Infinity || (state.wakeAt !== undefined && state.wakeAt <= at)) return;
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
    void ctx.taskLocks
      .run(taskId, async () => {
        const task = await ctx.tasks.get(tenantId, taskId);
        const agent = ctx.directory.get(tenantId, agentId);
        if (!task || task.status !== 'queued' || !agent || agent.status === 'paused' || agent.status === 'unhealthy') {
          ctx.directory.unreserveSlot(tenantId, agentId, ctx.clock.now());
          if (task?.status === 'queued') ctx.dispatcher.enqueue(task);
          ctx.dispatcher.pokeAgent(tenantId, agentId);
          return;
        }
        await ctx.lifecycle.commit(task, assign(task, agentId, ctx.clock.now()));
      })
      .catch(async (error: unknown) => {
        ctx.stats.routingErrors++;
        ctx.logger.error({ err: error, task_id: taskId, agent_id: agentId }, 'assignment failed; task stays queued');
        ctx.directory.unreserveSlot(tenantId, agentId, ctx.clock.now());
        const task = await ctx.tasks.get(tenantId, taskId).catch(() => undefined);
        if (task?.status === 'queued') this.enqueue(task);
      });
  }

  private fanOutBroadcast(tenantId: string, parentId: string, agentIds: string[]): void {
    const { ctx } = this;
    void ctx.taskLocks
      .run(parentId, async () => {
        const parent = await ctx.tasks.get(tenantId, parentId);
        if (!parent || parent.status !== 'queued') return;
        const now = ctx.clock.now();
        const copies = agentIds.map((agentId, i) => broadcastCopy(parent, agentId, i, now));
        await ctx.tasks.insertMany(copies);
        await ctx.lifecycle.commit(parent, fanOut(parent, copies.map((c) => c.task.id), now));
        for (const copy of copies) ctx.lifecycle.recover(copy.task);
      })
      .catch(async (error: unknown) => {
        ctx.stats.routingErrors++;
        ctx.logger.error({ err: error, task_id: parentId }, 'broadcast fan-out failed; task stays queued');
        const task = await ctx.tasks.get(tenantId, parentId).catch(() => undefined);
        if (task?.status === 'queued') this.enqueue(task);
      });
  }
}
