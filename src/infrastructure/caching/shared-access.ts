import type { Logger } from '../../application/logger.js';
import type { CacheKey } from '../../application/ports.js';
import type { SharedRead, SharedTier } from './redis-cache-tier.js';

/** An instance that claimed a key's load holds it this long at most (a load that takes longer lets another load too). */
export const LOAD_CLAIM_MS = 2_000;
/** How long a miss waits for the instance that holds the key's load, polling Redis, before it loads the key itself. */
export const LOAD_WAIT_MS = 250;
const LOAD_POLL_MS = 10;
export const HELD = Symbol('held by another instance');

/**
 * The shared tier (Redis) as the tiered cache uses it: a failure is counted and skipped (the
 * store answers), never thrown; and one load per key across instances, by a claim in Redis.
 */
export class SharedAccess {
  /** Reads, writes, claims and deletes that failed. */
  errors = 0;
  readonly loadWaits = { filled: 0, timed_out: 0 };

  constructor(
    readonly tier: SharedTier,
    private readonly logger: Logger,
    /** Keys whose entry there may be stale (an invalidation it has not taken yet): not read. */
    private readonly untrusted: (encoded: string) => boolean,
  ) {}

  /** Its answer; undefined when the key is not to be read there, or it failed (the store answers then). */
  async read(key: CacheKey): Promise<SharedRead | undefined> {
    if (this.untrusted(key.encoded)) return undefined;
    try {
      return await this.tier.read(key);
    } catch (error) {
      this.failed(error, 'read');
      return undefined;
    }
  }

  /** False only when it refused the write (an invalidation came first); a failure keeps the value in memory alone. */
  async write(key: CacheKey, json: string, ttlMs: number, read: SharedRead): Promise<boolean> {
    try {
      return await this.tier.write(key, json, ttlMs, read.token);
    } catch (error) {
      this.failed(error, 'write');
      return true;
    }
  }

  /** A claim on the key's load; HELD when another instance has it; undefined when Redis cannot say (load here). */
  async claim(key: CacheKey): Promise<string | typeof HELD | undefined> {
    try {
      return (await this.tier.lock(key, LOAD_CLAIM_MS)) ?? HELD;
    } catch (error) {
      this.failed(error, 'lock');
      return undefined;
    }
  }

  release(key: CacheKey, claim: string): void {
    this.tier.unlock(key, claim).catch((error: unknown) => this.failed(error, 'unlock'));
  }

  /** Polls for the entry another instance is loading, for LOAD_WAIT_MS at most; the latest read either way. */
  async awaitOther(key: CacheKey, read: SharedRead): Promise<SharedRead | undefined> {
    const until = performance.now() + LOAD_WAIT_MS;
    let latest = read;
    while (performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, LOAD_POLL_MS));
      const next = await this.read(key);
      if (next === undefined) break;
      latest = next;
      if (next.hit) {
        this.loadWaits.filled++;
        return next;
      }
    }
    this.loadWaits.timed_out++;
    return latest;
  }

  failed(error: unknown, operation: string): void {
    this.errors++;
    this.logger.debug({ err: error, operation }, 'shared cache tier unavailable');
  }
}
