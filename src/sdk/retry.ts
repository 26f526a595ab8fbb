import { ExponentialBackoff, fullJitterGenerator, handleWhen, retry, type IBackoff, type RetryPolicy as CockatielRetry } from 'cockatiel';
import { AgentMeshError } from './errors.js';
import { PLAIN } from '../domain/plain.js';

/**
 * How the SDK tries a request again. The same names and meaning as the mesh's own retry policies:
 * exponential backoff with full jitter (the wait before retry n is random between 0 and
 * min(`maxDelayMs`, `initialDelayMs` × 2^(n−1))), bounded tries.
 */
export interface RetryOptions {
  /** Tries of one call in all, the first included (1: no retry). Default 5. */
  maxAttempts?: number;
  /** Tries of a settlement (`settle`, `complete`, `fail`): a lost completion costs the work done. Default 10. */
  settleMaxAttempts?: number;
  /** The ceiling of the first backoff; each next one doubles, up to `maxDelayMs`. Default 100. */
  initialDelayMs?: number;
  /** The largest backoff ceiling. Default 5000. */
  maxDelayMs?: number;
  /**
   * The longest `Retry-After` the SDK waits out. A `429` or `503` asking for longer is not retried:
   * its `AgentMeshError` (with `retryAfterMs`) is thrown at once. Default 30000.
   */
  maxRetryAfterMs?: number;
  /** Called before each retry's wait: for logs and metrics. */
  onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  /** What is retried, e.g. `POST /v1/tasks/t1/complete` or `settle`. */
  operation: string;
  /** The try that failed (1 is the first). */
  attempt: number;
  /** The wait before the next try: at least the server's Retry-After when it sent one. */
  delayMs: number;
  error: unknown;
}

export type RetrySettings = Required<Omit<RetryOptions, 'onRetry'>> & Pick<RetryOptions, 'onRetry'>;

export const RETRY_DEFAULTS: Readonly<Required<Omit<RetryOptions, 'onRetry'>>> = Object.freeze({
  maxAttempts: 5,
  settleMaxAttempts: 10,
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
});

/** Options as given (`false`: no retries), checked, with the defaults filled in. */
export function retrySettings(options: RetryOptions | false | undefined): RetrySettings | undefined {
  if (options === false) return undefined;
  const settings = { ...PLAIN, ...RETRY_DEFAULTS, ...definedOnly(options ?? {}) } as RetrySettings;
  for (const name of ['maxAttempts', 'settleMaxAttempts'] as const) {
    if (!Number.isInteger(settings[name]) || settings[name] < 1) throw new TypeError(`retry.${name} must be an integer of at least 1, got ${String(settings[name])}`);
  }
  for (const name of ['initialDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const) {
    if (!Number.isFinite(settings[name]) || settings[name] < 0) throw new TypeError(`retry.${name} must be a number of milliseconds of at least 0, got ${String(settings[name])}`);
  }
  if (settings.maxDelayMs < settings.initialDelayMs) throw new TypeError(`retry.maxDelayMs (${settings.maxDelayMs}) must not be below retry.initialDelayMs (${settings.initialDelayMs})`);
  return settings;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Whether a request may be sent again after a failure whose effect is unknown.
 * - `idempotent`: sending it twice does what sending it once does (GET, PUT, DELETE, a submit with
 *   an idempotency key, complete, a non-retryable fail, extend, heartbeat, cancel, pause, resume).
 * - `unsafe`: it is sent again only when it surely was not applied: the connection was refused,
 *   `429`, or a `503` that is not the audit log's "it may have taken effect".
 */
export type Safety = 'idempotent' | 'unsafe';

/** Network error codes (of fetch's `cause`) that mean the request never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const AUDIT_UNAVAILABLE = 'https://agentmesh.dev/problems/audit_unavailable';

function codesOf(error: unknown, depth = 0): string[] {
  if (error === null || typeof error !== 'object' || depth > 4) return [];
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown };
  const own = typeof e.code === 'string' ? [e.code] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => codesOf(x, depth + 1)) : [];
  return [...own, ...nested, ...codesOf(e.cause, depth + 1)];
}

export const isAbort = (error: unknown): boolean => (error as Error | undefined)?.name === 'AbortError';
export const isTimeout = (error: unknown): boolean => (error as Error | undefined)?.name === 'TimeoutError';

/** A system error (ECONNRESET, EPIPE...) or undici's (UND_ERR_SOCKET...), not Node's ERR_INVALID_ARG_TYPE and the like. */
const NETWORK_CODE = /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/u;

/**
 * A failure to talk to the server at all: fetch's `TypeError: fetch failed`, a body cut short
 * (`terminated`), or any error caused by a socket's error code. Not an answer, and not a bug of
 * the caller (a TypeError from JSON.stringify is not retried).
 */
export function isNetworkError(error: unknown): boolean {
  if (error instanceof AgentMeshError || isAbort(error)) return false;
  if (codesOf(error).some((code) => NETWORK_CODE.test(code))) return true;
  return error instanceof TypeError && /^(fetch failed|terminated)$|network|socket/iu.test(error.message);
}

/** The request surely never reached the server (refused, unresolvable, unreachable). */
export function wasNotSent(error: unknown): boolean {
  return isNetworkError(error) && codesOf(error).some((code) => NOT_SENT.has(code));
}

/** The server's Retry-After, in ms, if the error carries one. */
export function retryAfterOf(error: unknown): number | undefined {
  return error instanceof AgentMeshError ? error.retryAfterMs : undefined;
}

/**
 * Whether to try again after `error`: network errors and timeouts, `429`, `502`, `503`, `504`,
 * and `500` only for idempotent requests; for unsafe ones only what surely was not applied.
 * Never a `Retry-After` beyond `maxRetryAfterMs`, never an abort, never any other answer.
 */
export function shouldRetry(error: unknown, safety: Safety, settings: Pick<RetrySettings, 'maxRetryAfterMs'>): boolean {
  if (isAbort(error)) return false;
  if (error instanceof AgentMeshError) {
    if (error.retryAfterMs !== undefined && error.retryAfterMs > settings.maxRetryAfterMs) return false;
    if (error.status === 429) return true;
    if (error.status === 503) return safety === 'idempotent' || error.type !== AUDIT_UNAVAILABLE;
    if (error.status === 500 || error.status === 502 || error.status === 504) return safety === 'idempotent';
    return false;
  }
  if (isTimeout(error)) return safety === 'idempotent';
  if (isNetworkError(error)) return safety === 'idempotent' || wasNotSent(error);
  return false;
}

/**
 * Jittered exponential delays: cockatiel's ExponentialBackoff with its full-jitter generator.
 * A server's Retry-After (capped at `maxRetryAfterMs`) is waited out in full, with the jittered
 * delay on top, so that clients told the same Retry-After do not all come back at once.
 */
export class Backoff {
  private readonly factory: ExponentialBackoff<number>;
  private current: IBackoff<unknown> | undefined;

  constructor(private readonly settings: Pick<RetrySettings, 'initialDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs'>) {
    this.factory = new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: settings.initialDelayMs, maxDelay: settings.maxDelayMs });
  }

  /** The wait before the next try. */
  next(retryAfterMs?: number): number {
    this.current = this.current ? this.current.next(undefined) : this.factory.next();
    const jittered = this.current.duration;
    return retryAfterMs !== undefined ? Math.min(retryAfterMs, this.settings.maxRetryAfterMs) + jittered : jittered;
  }

  /** Start again from the smallest delay (after a healthy connection). */
  reset(): void {
    this.current = undefined;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RunOptions {
  /** For `onRetry`. */
  operation: string;
  /** Stops the retries (and the wait between them): the abort's error is thrown. */
  signal?: AbortSignal;
  /** Instead of the settings' `maxAttempts`. */
  maxAttempts?: number;
}

/**
 * The SDK's one retry policy: cockatiel's retry (bounded tries, only what `shouldRetry` accepts)
 * over `Backoff`'s delays. The wait happens inside the tried function so that an abort ends it at
 * once (cockatiel's own delay cannot be cut short, and would keep a stopped agent's process alive).
 */
export class Retrier {
  private readonly policies = new Map<string, CockatielRetry>();

  constructor(readonly settings: RetrySettings | undefined) {}

  run<T>(safety: Safety | false, work: () => Promise<T>, options: RunOptions): Promise<T> {
    const settings = this.settings;
    if (!settings || safety === false) return work();
    const maxAttempts = options.maxAttempts ?? settings.maxAttempts;
    if (maxAttempts <= 1) return work();
    const backoff = new Backoff(settings);
    const { signal } = options;
    let last: unknown;
    return this.policy(safety, maxAttempts).execute(async ({ attempt }) => {
      if (attempt > 0) {
        const delayMs = backoff.next(retryAfterOf(last));
        try {
          settings.onRetry?.({ operation: options.operation, attempt, delayMs, error: last });
        } catch {
          // A listener's bug must not end the call.
        }
        await sleep(delayMs, signal);
      }
      signal?.throwIfAborted();
      try {
        return await work();
      } catch (error) {
        last = error;
        throw error;
      }
    }, signal);
  }

  private policy(safety: Safety, maxAttempts: number): CockatielRetry {
    const key = `${safety}:${maxAttempts}`;
    let policy = this.policies.get(key);
    if (!policy) {
      const settings = this.settings!;
      // The delay is ours (see run): cockatiel's is 0.
      policy = retry(
        handleWhen((error) => shouldRetry(error, safety, settings)),
        { maxAttempts: maxAttempts - 1 },
      );
      this.policies.set(key, policy);
    }
    return policy;
  }
}
