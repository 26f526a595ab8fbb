import { isTerminal, type Task } from '../domain/index.js';
import type { MessageBroker, Subscription } from './ports.js';
import { taskSettledSubject } from './subjects.js';

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/** How a follower instance learns that a task settled on the leader. */
export interface RemoteSettlements {
  broker: MessageBroker;
  /** The task as committed. */
  read(tenantId: string, id: string): Promise<Task | undefined>;
}

/** Long-poll callers waiting for a task to settle. Bounded by open requests; each waiter leaves on timeout. */
export class TaskWaiters {
  private readonly waiting = new Map<string, Set<(task: Task | undefined) => void>>();
  /** On a follower: one broker subscription per task someone waits for. */
  private readonly subscriptions = new Map<string, Subscription>();
  private remote: RemoteSettlements | undefined;

  get count(): number {
    let n = 0;
    for (const set of this.waiting.values()) n += set.size;
    return n;
  }

  /** Tasks settle on another instance (the leader), which announces each on the broker. */
  followRemote(remote: RemoteSettlements | undefined): void {
    this.remote = remote;
  }

  wait(tenantId: string, id: string, timeoutMs: number): Promise<Task | undefined> {
    const k = key(tenantId, id);
    return new Promise((resolve) => {
      let set = this.waiting.get(k);
      if (!set) {
        this.waiting.set(k, (set = new Set()));
        this.subscribeRemote(tenantId, id);
      }
      const done = (task: Task | undefined) => {
        clearTimeout(timer);
        set!.delete(listener);
        if (set!.size === 0 && this.waiting.get(k) === set) {
          this.waiting.delete(k);
          this.subscriptions.get(k)?.unsubscribe();
          this.subscriptions.delete(k);
        }
        resolve(task);
      };
      const listener = (task: Task | undefined) => done(task);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      set.add(listener);
    });
  }

  /** Resolves once a settlement of the task announced from now on will be heard (at once on the leader). */
  async listening(tenantId: string, id: string): Promise<void> {
    await this.subscriptions.get(key(tenantId, id))?.ready;
  }

  /** Wake every waiter empty-handed (shutdown): each answers with the task as it stands. */
  releaseAll(): void {
    for (const set of [...this.waiting.values()]) for (const listener of [...set]) listener(undefined);
  }

  settled(task: Task): void {
    const set = this.waiting.get(key(task.tenantId, task.id));
    if (set) for (const listener of [...set]) listener(task);
  }

  private subscribeRemote(tenantId: string, id: string): void {
    const remote = this.remote;
    if (!remote) return;
    const subscription = remote.broker.listen(taskSettledSubject(tenantId, id), () => {
      void remote
        .read(tenantId, id)
        .then((task) => task && isTerminal(task) && this.settled(task))
        // A failed read leaves the waiter to its timeout, which reads the task again.
        .catch(() => {});
    });
    this.subscriptions.set(key(tenantId, id), subscription);
  }
}
