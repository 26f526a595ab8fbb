import { isTerminal, type DomainEvent, type Task } from '../../domain/index.js';
import type { Page, PageRequest, TaskFilter, TaskRepository } from '../../application/ports.js';

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/**
 * For a store that only this process writes (the embedded default, or the leader of many
 * instances; a follower passes everything through until it leads): active tasks are kept in
 * memory, so the hot path (assign, deliver, complete) reads no rows. A save shows at once (the
 * next transition of the task may merge into the same group commit) and is undone if its commit
 * fails. Readers outside the mesh use `getCommitted`, which answers the state before any change
 * still waiting for its commit. Active tasks are bounded by the queue and capacity bounds; settled
 * ones stay in a small LRU.
 */
export class CachedTaskRepository implements TaskRepository {
  private readonly active = new Map<string, Task>();
  private readonly settled = new Map<string, Task>();
  /** Tasks with writes in flight: how many, and the state before the first of them (bounded by the write queue). */
  private readonly uncommitted = new Map<string, { writes: number; before: Task | undefined }>();

  constructor(
    private readonly inner: TaskRepository,
    private readonly settledCapacity = 10_000,
    private caching = true,
  ) {}

  /** This process writes the tasks from now on (it was elected leader): cache from here. */
  startCaching(): void {
    this.active.clear();
    this.settled.clear();
    this.caching = true;
  }

  get activeCount(): number {
    return this.active.size;
  }

  get settledCount(): number {
    return this.settled.size;
  }

  private remember(task: Task): void {
    const k = key(task.tenantId, task.id);
    if (isTerminal(task)) {
      this.active.delete(k);
      this.settled.delete(k);
      this.settled.set(k, task);
      if (this.settled.size > this.settledCapacity) this.settled.delete(this.settled.keys().next().value!);
    } else {
      this.active.set(k, task);
    }
  }

  private forget(task: Task): void {
    const k = key(task.tenantId, task.id);
    if (this.active.get(k) === task) this.active.delete(k);
    if (this.settled.get(k) === task) this.settled.delete(k);
  }

  /** Show the new state now; if the store refuses it, drop it so the next read asks the store. */
  private async writeThrough(tasks: Task[], write: Promise<void>): Promise<void> {
    if (!this.caching) return write;
    for (const t of tasks) {
      const k = key(t.tenantId, t.id);
      const entry = this.uncommitted.get(k);
      if (entry) entry.writes++;
      else this.uncommitted.set(k, { writes: 1, before: this.active.get(k) ?? this.settled.get(k) });
      this.remember(t);
    }
    try {
      await write;
    } catch (error) {
      for (const t of tasks) this.forget(t);
      throw error;
    } finally {
      for (const t of tasks) {
        const k = key(t.tenantId, t.id);
        const entry = this.uncommitted.get(k)!;
        if (--entry.writes === 0) this.uncommitted.delete(k);
      }
    }
  }

  insert(task: Task, events: DomainEvent[]): Promise<void> {
    return this.writeThrough([task], this.inner.insert(task, events));
  }

  insertMany(items: Array<{ task: Task; events: DomainEvent[] }>): Promise<void> {
    return this.writeThrough(items.map((i) => i.task), this.inner.insertMany(items));
  }

  save(task: Task, events: DomainEvent[]): Promise<void> {
    return this.writeThrough([task], this.inner.save(task, events));
  }

  async get(tenantId: string, id: string): Promise<Task | undefined> {
    if (!this.caching) return this.inner.get(tenantId, id);
    const k = key(tenantId, id);
    const hit = this.active.get(k) ?? this.settled.get(k);
    if (hit) return hit;
    const task = await this.inner.get(tenantId, id);
    if (task && !isTerminal(task)) this.active.set(k, task);
    return task;
  }

  async getCommitted(tenantId: string, id: string): Promise<Task | undefined> {
    if (!this.caching) return this.inner.getCommitted(tenantId, id);
    const pending = this.uncommitted.get(key(tenantId, id));
    if (pending) return pending.before ?? this.inner.getCommitted(tenantId, id);
    return this.get(tenantId, id);
  }

  findByIdempotencyKey(tenantId: string, idempotencyKey: string): Promise<Task | undefined> {
    return this.inner.findByIdempotencyKey(tenantId, idempotencyKey);
  }

  list(tenantId: string, filter: TaskFilter, page: PageRequest): Promise<Page<Task>> {
    return this.inner.list(tenantId, filter, page);
  }

  async listActive(): Promise<Task[]> {
    const tasks = await this.inner.listActive();
    if (this.caching) for (const t of tasks) this.remember(t);
    return tasks;
  }

  listCopies(tenantId: string, parentId: string): Promise<Task[]> {
    return this.inner.listCopies(tenantId, parentId);
  }

  submittedPerMinuteSince(tenantId: string, since: number): Promise<Array<{ minute: number; count: number }>> {
    return this.inner.submittedPerMinuteSince(tenantId, since);
  }
}
