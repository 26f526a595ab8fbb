import { isTerminal, QuotaExceededError, type Task } from '../domain/index.js';
import type { MessageBroker, Subscription } from './ports.js';
import { taskSettledSubject } from './subjects.js';
import { TenantSlots } from './tenant-slots.js';

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/** How a follower instance learns that a task settled on the leader. */
export interface RemoteSettlements {
  broker: MessageBroker;
  /** The task as committed. */
  read(tenantId: string, id: string): Promise<Task | undefined>;
}

/**
 * Long-poll callers waiting for a task to settle: at most `maxPerTenant` of one tenant at a time
 * (past it, QuotaExceededError: 429), each leaving on its timeout.
 */
export class TaskWaiters {
  private readonly waiting = new Map<string, Set<(task: Task | undefined) => void>>();
  /** On a follower: one broker subscription per task someone waits for. */
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly perTenant: TenantSlots;
  private remote: RemoteSettlements | undefined;

  constructor(
    maxPerTenant: number,
    private readonly onRefused: (tenantId: string) => void = () => {},
  ) {
    this.perTenant = new TenantSlots(maxPerTenant);
  }

  get count(): number {
    return this.perTenant.taken;
  }

  /** Tasks settle on another instance (the leader), which announces each on the broker. */
  followRemote(remote: RemoteSettlements | undefined): void {
    this.remote = remote;
  }

  /**
   * The task once it settles, or undefined when `timeoutMs` passes or `signal` aborts (the caller
   * hung up) first. Throws QuotaExceededError when the tenant has `maxPerTenant` waits open already.
   */
  wait(tenantId: string, id: string, timeoutMs: number, signal?: AbortSignal): Promise<Task | undefined> {
    const k = key(tenantId, id);
    const release = this.perTenant.take(tenantId);
    if (release === undefined) {
      const max = this.perTenant.max;
      this.onRefused(tenantId);
      throw new QuotaExceededError(`tenant '${tenantId}' has ${max} ${max === 1 ? 'request' : 'requests'} waiting for tasks to settle on this instance`, {
        quota: 'maxTaskWaitsPerTenant',
        limit: max,
        retryAfterSeconds: 1,
      });
    }
    return new Promise((resolve) => {
      let set = this.waiting.get(k);
      if (!set) {
        this.waiting.set(k, (set = new Set()));
        this.subscribeRemote(tenantId, id);
      }
      let finished = false;
      const done = (task: Task | undefined) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set!.delete(listener);
        release();
        if (set!.size === 0 && this.waiting.get(k) === set) {
          this.waiting.delete(k);
          this.subscriptions.get(k)?.unsubscribe();
          this.subscriptions.delete(k);
        }
        resolve(task);
      };
      const listener = (task: Task | undefined) => done(task);
      const onAbort = () => done(undefined);
      const timer = setTimeout(onAbort, timeoutMs);
      set.add(listener);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
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
