import { QuotaExceededError } from '../domain/index.js';
import { secondsUntilRoom } from './rate-limiter.js';
import type { SharedCounters } from './ports.js';
import { DEFAULT_TENANT_ID } from './use-cases/bootstrap.js';

const WINDOW_MS = 60_000;
/** Addresses refused at once, here; the oldest block is dropped past it (it is counted again on its next failure). */
export const MAX_BLOCKED_ADDRESSES = 10_000;

/**
 * Failed authentications per client address per minute, counted across instances (the shared
 * sliding windows; in the platform tenant, as the audit log records them). Past the limit the
 * address is refused with 429 before its key is even looked up, until the minute has room again:
 * a key-guessing flood reaches neither the store nor the audit log. Each instance keeps the
 * addresses it refuses in memory (bounded), so a refusal costs no round trip to Redis.
 */
export class AuthFailureLimiter {
  /** Address -> when it may try again (ms), oldest first. */
  private readonly blocked = new Map<string, number>();

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

  /** Refuses (QuotaExceededError, 429) an address that failed too often in the last minute. */
  check(address: string, now: number): void {
    address = clientOf(address);
    const until = this.blocked.get(address);
    if (until === undefined) return;
    if (until <= now) {
      this.blocked.delete(address);
      return;
    }
    throw this.refusal(Math.max(1, Math.ceil((until - now) / 1000)));
  }

  /** Counts a failed authentication; resolves true when it put the address over the limit (it is refused from now on). */
  async failed(address: string, now: number): Promise<boolean> {
    if (!this.active) return false;
    address = clientOf(address);
    const window = await this.counters.addInWindow(DEFAULT_TENANT_ID, `authfail:${address}`, WINDOW_MS, 1, now);
    if (window.total <= this.perMinute) return false;
    const seconds = Math.max(1, secondsUntilRoom(window, this.perMinute, 1, now));
    this.blocked.delete(address);
    if (this.blocked.size >= MAX_BLOCKED_ADDRESSES) this.blocked.delete(this.blocked.keys().next().value!);
    this.blocked.set(address, now + seconds * 1000);
    return true;
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
