import { QuotaExceededError } from '../domain/index.js';
import { secondsUntilRoom } from './rate-limiter.js';
import type { CountWindow, SharedCounters } from './ports.js';
import { DEFAULT_TENANT_ID } from './use-cases/bootstrap.js';

const WINDOW_MS = 60_000;
/** Addresses refused at once, here; the oldest block is dropped past it (it is counted again on its next failure). */
export const MAX_BLOCKED_ADDRESSES = 10_000;
/** Addresses whose keys under way are watched at once, here; past it a new address goes ahead unwatched. */
export const MAX_ADDRESSES_IN_FLIGHT = 10_000;
/** Addresses whose last counted failures this instance remembers; the oldest is forgotten past it. */
const MAX_REMEMBERED_WINDOWS = 10_000;

/**
 * Failed authentications per client address per minute, counted across instances (the shared
 * sliding windows; in the platform tenant, as the audit log records them). Past the limit the
 * address is refused with 429 before its key is even looked up, until the minute has room again:
 * a key-guessing flood reaches neither the store nor the audit log. Each instance keeps the
 * addresses it refuses in memory (bounded), so a refusal costs no round trip to Redis.
 *
 * A failure is known only once its key is found wrong, so the keys under way count too: an
 * address's failures in the minute (as last counted) and the distinct keys it has under way here
 * may not pass the limit by more than one, the guess that puts it over. Many guesses at once, over
 * many connections, are refused (429) past that instead of all being tried; one key (one
 * Authorization header) sent on many connections at once is one guess (a busy client whose key is
 * being looked up again).
 */
export class AuthFailureLimiter {
  /** Address -> when it may try again (ms), oldest first. */
  private readonly blocked = new Map<string, number>();
  /** Address -> the keys it has under way on this instance -> how many requests each. */
  private readonly inFlight = new Map<string, Map<string, number>>();
  /** Address -> its failures' window as last counted, oldest first. */
  private readonly counted = new Map<string, CountWindow>();

  constructor(
    private readonly counters: SharedCounters,
    private readonly perMinute: number,
  ) {}

  get active(): boolean {
    return this.perMinute > 0;
  }

  get blockedCount(): number {
    return this.blocked.size;
  }

  /** Addresses with authentications under way on this instance. */
  get addressesInFlight(): number {
    return this.inFlight.size;
  }

  /**
   * Lets an authentication of `key` from `address` go ahead, or refuses it (QuotaExceededError,
   * 429): the address failed too often in the last minute, or it has so many other keys under way
   * that they could take it over the limit. Returns the client to give `end` once the key is
   * resolved (after `failed`, for a wrong one).
   */
  begin(address: string, key: string, now: number): string {
    const client = clientOf(address);
    if (!this.active) return client;
    const until = this.blocked.get(client);
    if (until !== undefined) {
      if (until > now) throw this.refusal(Math.max(1, Math.ceil((until - now) / 1000)));
      this.blocked.delete(client);
    }
    let keys = this.inFlight.get(client);
    const requests = keys?.get(key);
    if (requests === undefined) {
      const guesses = keys?.size ?? 0;
      const window = this.counted.get(client);
      const failures = window === undefined ? 0 : this.stillCounted(client, window, now);
      // Up to the limit, plus the one guess that may put the address over it. While the failures
      // alone leave room, the guesses under way end within a lookup: try again in a second.
      if (failures + guesses > this.perMinute) {
        throw this.refusal(window !== undefined && failures > this.perMinute ? Math.max(1, secondsUntilRoom(window, this.perMinute + 1, 1, now)) : 1);
      }
      if (keys === undefined) {
        // Past the bound a new address goes ahead unwatched (its failures still count): refusing
        // every new address would hand whoever fills the map the whole API.
        if (this.inFlight.size >= MAX_ADDRESSES_IN_FLIGHT) return client;
        keys = new Map();
        this.inFlight.set(client, keys);
      }
    }
    keys!.set(key, (requests ?? 0) + 1);
    return client;
  }

  /** The authentication of `key` that `begin` let go ahead for `client` ended. */
  end(client: string, key: string): void {
    const keys = this.inFlight.get(client);
    const requests = keys?.get(key);
    if (requests === undefined) return;
    if (requests > 1) keys!.set(key, requests - 1);
    else if (keys!.size > 1) keys!.delete(key);
    else this.inFlight.delete(client);
  }

  /** Counts a failed authentication; resolves true when it put the address over the limit (it is refused from now on). */
  async failed(address: string, now: number): Promise<boolean> {
    if (!this.active) return false;
    address = clientOf(address);
    const window = await this.counters.addInWindow(DEFAULT_TENANT_ID, `authfail:${address}`, WINDOW_MS, 1, now);
    this.remember(address, window);
    if (window.total <= this.perMinute) return false;
    const seconds = Math.max(1, secondsUntilRoom(window, this.perMinute, 1, now));
    this.blocked.delete(address);
    if (this.blocked.size >= MAX_BLOCKED_ADDRESSES) this.blocked.delete(this.blocked.keys().next().value!);
    this.blocked.set(address, now + seconds * 1000);
    return true;
  }

  private remember(client: string, window: CountWindow): void {
    this.counted.delete(client);
    if (this.counted.size >= MAX_REMEMBERED_WINDOWS) this.counted.delete(this.counted.keys().next().value!);
    this.counted.set(client, window);
  }

  /** The failures of `window` still in the minute at `now` (bucket i leaves it at (current + i + 1) × bucketMs); an emptied window is forgotten. */
  private stillCounted(client: string, window: CountWindow, now: number): number {
    let total = window.total;
    for (let i = 0; i < window.buckets.length && (window.current + i + 1) * window.bucketMs <= now; i++) total -= window.buckets[i]!;
    if (total <= 0) this.counted.delete(client);
    return total;
  }

  private refusal(retryAfterSeconds: number): QuotaExceededError {
    return new QuotaExceededError(`too many failed authentications from this address: more than ${this.perMinute} in the last minute`, {
      quota: 'authFailuresPerMinutePerAddress',
      limit: this.perMinute,
      retryAfterSeconds,
    });
  }
}

/**
 * Whom an address stands for: an IPv4 address itself; an IPv6 address by its /64, the block one
 * client (a home, a host) is given, inside which it could otherwise take a new address per try.
 */
export function clientOf(address: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/iu.exec(address)?.[1];
  if (v4 !== undefined) return v4;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/u, '')).join(':')}::/64`;
}
