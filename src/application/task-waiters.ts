import type { Task } from '../domain/index.js';

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/** Long-poll callers waiting for a task to settle. Bounded by open requests; each waiter leaves on timeout. */
export class TaskWaiters {
  private readonly waiting = new Map<string, Set<(task: Task | undefined) => void>>();

  get count(): number {
    let n = 0;
    for (const set of this.waiting.values()) n += set.size;
    return n;
  }

  wait(tenantId: string, id: string, timeoutMs: number): Promise<Task | undefined> {
    const k = key(tenantId, id);
    return new Promise((resolve) => {
      let set = this.waiting.get(k);
      if (!set) this.waiting.set(k, (set = new Set()));
      const done = (task: Task | undefined) => {
        clearTimeout(timer);
        set!.delete(listener);
        if (set!.size === 0 && this.waiting.get(k) === set) this.waiting.delete(k);
        resolve(task);
      };
      const listener = (task: Task | undefined) => done(task);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      set.add(listener);
    });
  }

  /** Wake every waiter empty-handed (shutdown): each answers with the task as it stands. */
  releaseAll(): void {
    for (const set of [...this.waiting.values()]) for (const listener of [...set]) listener(undefined);
  }

  settled(task: Task): void {
    const set = this.waiting.get(key(task.tenantId, task.id));
    if (set) for (const listener of [...set]) listener(task);
  }
}
