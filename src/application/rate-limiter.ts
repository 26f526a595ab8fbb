import { QuotaExceededError } from '../domain/index.js';
import type { Caller } from './caller.js';
import type { CountWindow, SharedCounters } from './ports.js';

export interface RateLimits {
  /** Requests per minute one API key may make; 0: no limit. */
  perKey: number;
  /** Requests per minute all of a tenant's keys may make together; 0: no limit. */
  perTenant: number;
}

const WINDOW_MS = 60_000;

/** What a request may be told about its limits (RateLimit-* headers): the tighter of the two. */
export interface RateState {
  limit: number;
  remaining: number;
  /** Seconds until some of the used allowance comes back. */
  resetSeconds: number;
  /** The policies counted, e.g. `1000;w=60`. */
  policies: string[];
}

/**
 * Seconds from `now` until the window has room for `room` more: the oldest buckets leave it one
 * by one (bucket i ends with the window at (current + i + 1) × bucketMs).
 */
export function secondsUntilRoom(window: CountWindow, limit: number, room: number, now: number): number {
  let total = window.total;
  for (let i = 0; i < window.buckets.length; i++) {
    if (limit - total >= room) return Math.max(0, Math.ceil(((window.current + i) * window.bucketMs - now) / 1000));
    total -= window.buckets[i]!;
  }
  return Math.ceil(((window.current + window.buckets.length) * window.bucketMs - now) / 1000);
}

interface Counted {
  scope: 'key' | 'tenant';
  limit: number;
  window: CountWindow;
}

/**
 * Requests per minute, per API key and per tenant, counted in the shared sliding windows (Redis
 * across instances). A request over either limit is refused (429) and counted all the same, so a
 * client that keeps hammering stays refused.
 */
export class RateLimiter {
  constructor(
    private readonly counters: SharedCounters,
    private readonly limits: RateLimits,
  ) {}

  /** The most a tenant's admin may give one of its keys: the instance's per-key limit (none when that is off). */
  get keyLimitCeiling(): number | undefined {
    return this.limits.perKey > 0 ? this.limits.perKey : undefined;
  }

  /** Counts the request; rejects with QuotaExceededError (Retry-After) when a limit is passed. A key's own limit replaces the default per-key one. */
  async admit(caller: Caller, now: number): Promise<RateState | undefined> {
    const limits: Array<{ scope: Counted['scope']; limit: number; name: string }> = [];
    const perKey = caller.rateLimitPerMinute ?? this.limits.perKey;
    if (perKey > 0) limits.push({ scope: 'key', limit: perKey, name: `rate:key:${caller.keyId}` });
    if (this.limits.perTenant > 0) limits.push({ scope: 'tenant', limit: this.limits.perTenant, name: 'rate:tenant' });
    if (limits.length === 0) return undefined;
    // Both windows in one step (one round trip to Redis).
    const windows = await this.counters.addInWindows(caller.tenantId, limits.map((l) => ({ name: l.name, windowMs: WINDOW_MS, amount: 1 })), now);
    const counted: Counted[] = limits.map((l, i) => ({ scope: l.scope, limit: l.limit, window: windows[i]! }));
    const over = counted.find((c) => c.window.total > c.limit);
    if (over) {
      const retryAfterSeconds = Math.max(1, secondsUntilRoom(over.window, over.limit, 1, now));
      throw new QuotaExceededError(`${over.scope === 'key' ? 'this API key' : `tenant '${caller.tenantId}'`} made more than ${over.limit} requests in the last minute`, {
        quota: over.scope === 'key' ? 'requestsPerMinutePerKey' : 'requestsPerMinutePerTenant',
        limit: over.limit,
        retryAfterSeconds,
      });
    }
    const tightest = counted.reduce((a, b) => (b.limit - b.window.total < a.limit - a.window.total ? b : a));
    const remaining = tightest.limit - tightest.window.total;
    return {
      limit: tightest.limit,
      remaining,
      // When the oldest request counted leaves the window, and one more is allowed.
      resetSeconds: secondsUntilRoom(tightest.window, tightest.limit, remaining + 1, now),
      policies: counted.map((c) => `${c.limit};w=${WINDOW_MS / 1000}`),
    };
  }
}
