import type { AgentMeshClient } from './client.js';
import { AgentMeshError, TaskWithdrawnError } from './errors.js';
import { follow } from './signals.js';

/**
 * Keeps an attempt's lease while its handler runs: renews it every half lease, by the task's lease
 * or the last one the handler asked for. When the mesh answers a renewal that the task is no longer
 * this agent's (409, 404: canceled, past its deadline, its lease moved on), the attempt's signal
 * aborts with a TaskWithdrawnError. Renewals (and their retries) end with the handler: one landing
 * after the settlement would only be refused.
 */
export class LeaseKeeper {
  private readonly attempt = new AbortController();
  private readonly renewing = new AbortController();
  private readonly unfollow: Array<() => void>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: AgentMeshClient,
    private readonly taskId: string,
    private readonly agentId: string,
    private leaseMs: number,
    /** Aborted when the agent gives up on the handler (stop). */
    stopped: AbortSignal,
    private readonly report: (error: unknown) => void,
  ) {
    this.unfollow = [follow(stopped, this.attempt), follow(this.attempt.signal, this.renewing)];
    this.renewing.signal.addEventListener('abort', () => clearInterval(this.timer), { once: true });
    this.renewEveryHalfLease();
  }

  /** The handler's signal. */
  get signal(): AbortSignal {
    return this.attempt.signal;
  }

  /** The lease to now + `ms`, and renewals by `ms` from then on. */
  async extend(ms: number): Promise<void> {
    await this.client.extendLease(this.taskId, this.agentId, ms);
    this.leaseMs = ms;
    if (!this.renewing.signal.aborted) this.renewEveryHalfLease();
  }

  /** The handler returned: no more renewals. */
  end(): void {
    this.renewing.abort();
    for (const unfollow of this.unfollow) unfollow();
  }

  private renewEveryHalfLease(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.renew(), Math.max(50, this.leaseMs / 2));
    this.timer.unref();
  }

  private renew(): void {
    this.client.extendLease(this.taskId, this.agentId, this.leaseMs, { signal: this.renewing.signal }).catch((error: unknown) => {
      if (this.renewing.signal.aborted) return;
      this.report(error);
      if (error instanceof AgentMeshError && (error.status === 409 || error.status === 404)) this.attempt.abort(new TaskWithdrawnError(this.taskId, error));
    });
  }
}
