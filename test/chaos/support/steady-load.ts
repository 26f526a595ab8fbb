import { AgentMeshClient, AgentMeshError } from '../../../src/sdk/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LoadOptions {
  /** The mesh instances' URLs: task n goes to n mod count first, then to the next one on each retry. */
  urls: string[];
  apiKey: string;
  tasks: number;
  perSecond: number;
  /** Every n-th task always fails (and may take 2 attempts): it must end dead-lettered, for that cause. */
  doomedEvery?: number;
  capability?: string;
  /** A submit that has not answered by then is abandoned and tried again (same key): a hung request. */
  requestTimeoutMs?: number;
  /** How long one task's submit keeps being retried before the load gives up. */
  giveUpAfterMs?: number;
}

/**
 * A steady, open-loop stream of tasks over several instances, each with an idempotency key, each
 * submit retried with the same key (on the next instance) until the mesh takes it: network errors,
 * 429 and 5xx are retried; any other answer is a failure of the test.
 */
export class SteadyLoad {
  /** Keys of the tasks the mesh acknowledged. */
  readonly submitted = new Set<string>();
  /** Keys of the doomed tasks among them. */
  readonly doomed = new Set<string>();
  /** Submit calls that failed and were retried, by reason. */
  readonly retries = new Map<string, number>();
  /** Submit calls abandoned after requestTimeoutMs without an answer. */
  hung = 0;
  private readonly clients: AgentMeshClient[];
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  private readonly done: Promise<void>;
  private fatal: Error | undefined;

  private constructor(private readonly o: Required<LoadOptions>) {
    const timedFetch: typeof fetch = (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(o.requestTimeoutMs) });
    this.clients = o.urls.map((url) => new AgentMeshClient({ url, apiKey: o.apiKey, fetch: timedFetch }));
    this.done = this.run();
    this.done.catch(() => {});
  }

  static start(options: LoadOptions): SteadyLoad {
    return new SteadyLoad({ doomedEvery: 0, capability: 'work', requestTimeoutMs: 10_000, giveUpAfterMs: 120_000, ...options });
  }

  /** Resolves once `count` tasks have been acknowledged. */
  reached(count: number): Promise<void> {
    if (this.submitted.size >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ count, resolve });
      this.done.then(() => reject(new Error(`the load ended with ${this.submitted.size} tasks, before ${count}`)), reject);
    });
  }

  /** Resolves when every task has been acknowledged; rejects when one could not be. */
  finished(): Promise<void> {
    return this.done;
  }

  private async run(): Promise<void> {
    const tickMs = 100;
    const perTick = Math.max(1, Math.round((this.o.perSecond * tickMs) / 1000));
    const pending: Array<Promise<void>> = [];
    const started = Date.now();
    for (let n = 0; n < this.o.tasks && !this.fatal; n += perTick) {
      for (let i = n; i < Math.min(n + perTick, this.o.tasks); i++) pending.push(this.submit(i));
      // Open loop: the next tick does not wait for this one's answers (an outage piles retries up, as real clients would).
      await sleep(Math.max(0, started + ((n + perTick) / perTick) * tickMs - Date.now()));
    }
    await Promise.all(pending);
    if (this.fatal) throw this.fatal;
  }

  private async submit(n: number): Promise<void> {
    const key = `chaos-${n}`;
    const doomed = this.o.doomedEvery > 0 && n % this.o.doomedEvery === 0;
    const giveUpAt = Date.now() + this.o.giveUpAfterMs;
    for (let attempt = 0; !this.fatal; attempt++) {
      const client = this.clients[(n + attempt) % this.clients.length]!;
      try {
        await client.submit(this.o.capability, { n, doomed }, { idempotencyKey: key, ...(doomed && { maxAttempts: 2 }) });
        this.submitted.add(key);
        if (doomed) this.doomed.add(key);
        for (const w of this.waiters.filter((w) => this.submitted.size >= w.count)) w.resolve();
        return;
      } catch (error) {
        const reason = reasonOf(error);
        if (reason === undefined || Date.now() > giveUpAt) {
          this.fatal ??= new Error(`submit of ${key} failed for good after ${attempt + 1} tries: ${(error as Error).message}`, { cause: error });
          return;
        }
        if (reason === 'timeout') this.hung++;
        this.retries.set(reason, (this.retries.get(reason) ?? 0) + 1);
        await sleep(Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
      }
    }
  }
}

/** Why a submit is worth retrying (a short label), or undefined when it is not. */
function reasonOf(error: unknown): string | undefined {
  if (error instanceof AgentMeshError) return error.retryable ? String(error.status) : undefined;
  const name = (error as Error).name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  // fetch's network failures: connection refused or reset (an instance that is down or died mid-request).
  if (error instanceof TypeError) return 'network';
  return undefined;
}
