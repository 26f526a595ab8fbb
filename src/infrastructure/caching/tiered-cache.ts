import { kindPrefix, tenantPrefix } from '../../application/cache-keys.js';
import { silentLogger, type Logger } from '../../application/logger.js';
import { MAX_RESULT_TTL_SECONDS } from '../../domain/index.js';
import type { Cache, CacheKey, CacheKind, CacheProfile, CacheStats } from '../../application/ports.js';
import { HIT_RATE_STEP_MS, HIT_RATE_WINDOW_MS, HitRateWindow } from './hit-rate-window.js';
import type { Invalidation, InvalidationBus } from './invalidation-bus.js';
import { L1Store, perKind, type KeptEntry, type L1Bounds } from './l1-store.js';
import type { SharedTier } from './redis-cache-tier.js';
import { RetryQueue } from './retry-queue.js';
import { HELD, SharedAccess } from './shared-access.js';

export interface CacheSettings {
  /** How long an entry of each kind lives, in every tier. */
  ttlsMs: Record<CacheKind, number>;
  l1: L1Bounds;
  /**
   * How long past its TTL an entry of this process may still answer (0 or absent: never): at once
   * while one load refreshes it, and for as long as that load fails (the store down). Never for
   * API keys, whose TTL bounds a revocation that missed an instance.
   */
  graceMs?: number;
  /** false: every read goes to its loader and nothing is kept (AGENTMESH_CACHE=off, to measure the cache). */
  enabled?: boolean;
}

/** The seed's TTLs (agent 300 s, message 60 s, tenant config 3600 s); API keys 30 s, the bound on a revocation whose message was lost. */
export const DEFAULT_CACHE_SETTINGS: CacheSettings = {
  ttlsMs: { agent: 300_000, message: 60_000, tenant_config: 3_600_000, api_key: 30_000, skill_result: MAX_RESULT_TTL_SECONDS * 1000 },
  l1: { maxEntries: 10_000, maxBytes: 32 * 1024 * 1024 },
  graceMs: 300_000,
};

/** A load that invalidations overtook this often in a row is answered, uncached. */
const MAX_LOADS = 3;

interface Flight {
  promise: Promise<unknown>;
  /** An invalidation of the key came while the flight ran: what it read may be older than that. */
  overtaken: boolean;
}

/**
 * The mesh's cache policies over its tiers: L1 in this process (lru-cache), optionally a shared
 * tier (Redis) and a bus that carries invalidations to the other instances. One load per key
 * at a time; a load overtaken by an invalidation is neither cached nor returned, but run again.
 * A shared tier that fails is skipped (the store answers); deletes it missed are retried.
 */
export class TieredCache implements Cache {
  private readonly l1: L1Store;
  private readonly flights = new Map<string, Flight>();
  private readonly hits = { l1: perKind(), l2: perKind() };
  private readonly misses = { l1: perKind(), l2: perKind() };
  private readonly retries: RetryQueue;
  /** Invalidations still to reach the shared tier and the bus (bounded by the retry queue). */
  private readonly unsettled = new Set<Invalidation>();
  private readonly window = new HitRateWindow();
  private sampling: NodeJS.Timeout | undefined;
  private readonly loadListeners: Array<(kind: CacheKind, seconds: number) => void> = [];
  private readonly staleServed = { revalidating: perKind(), store_unavailable: perKind() };
  private readonly shared: SharedAccess | undefined;

  constructor(
    private readonly settings: CacheSettings,
    sharedTier?: SharedTier,
    private readonly bus?: InvalidationBus,
    private readonly logger: Logger = silentLogger,
  ) {
    this.l1 = new L1Store(settings.l1);
    this.shared = sharedTier && new SharedAccess(sharedTier, logger, (encoded) => this.unsettledFor(encoded));
    this.retries = new RetryQueue(logger);
  }

  /** Listens to the other instances' invalidations, and starts sampling the hit rate. */
  async start(): Promise<void> {
    this.sampling = setInterval(() => this.window.sample(this.hits, this.misses), HIT_RATE_STEP_MS).unref();
    await this.bus?.subscribe(
      (invalidation) => this.forgetHere(invalidation),
      () => {
        this.logger.warn({}, 'cache invalidation bus reconnected: dropping what this instance holds in memory, as invalidations may have been missed');
        this.forgetAllHere();
      },
    );
  }

  async getOrLoad<T>(key: CacheKey, load: () => Promise<T | undefined>): Promise<T | undefined> {
    if (this.settings.enabled === false) {
      this.misses.l1[key.kind]++;
      return load();
    }
    const entry = this.l1.get(key.encoded);
    if (entry !== undefined) {
      this.hits.l1[key.kind]++;
      if (entry.freshUntil <= performance.now()) this.serveStale(key, load, entry);
      return entry.value as T;
    }
    this.misses.l1[key.kind]++;
    return this.flight(key, load) as Promise<T | undefined>;
  }

  /** A stale entry answers now; one load refreshes it in the background (and when it fails, the entry says so). */
  private serveStale(key: CacheKey, load: () => Promise<unknown>, entry: KeptEntry): void {
    this.staleServed[entry.refreshFailed ? 'store_unavailable' : 'revalidating'][key.kind]++;
    if (this.flights.has(key.encoded)) return;
    this.flight(key, load).catch((error: unknown) => {
      entry.refreshFailed = true;
      this.logger.debug({ err: error, kind: key.kind }, 'refreshing a stale cache entry failed; serving it stale within its grace period');
    });
  }

  private flight(key: CacheKey, load: () => Promise<unknown>): Promise<unknown> {
    let flight = this.flights.get(key.encoded);
    if (flight === undefined) {
      const started: Flight = { promise: Promise.resolve(), overtaken: false };
      started.promise = this.fill(key, load, started).finally(() => {
        if (this.flights.get(key.encoded) === started) this.flights.delete(key.encoded);
      });
      this.flights.set(key.encoded, started);
      flight = started;
    }
    return flight.promise;
  }

  async peek<T>(key: CacheKey): Promise<T | undefined> {
    if (this.settings.enabled === false) return undefined;
    const entry = this.l1.get(key.encoded);
    if (entry !== undefined && entry.freshUntil > performance.now()) {
      this.hits.l1[key.kind]++;
      return entry.value as T;
    }
    this.misses.l1[key.kind]++;
    const read = await this.shared?.read(key);
    if (!read?.hit) {
      if (read) this.misses.l2[key.kind]++;
      return undefined;
    }
    this.hits.l2[key.kind]++;
    this.l1.set(key.encoded, { value: read.hit.value, kind: key.kind }, read.hit.bytes, read.hit.ttlMs);
    return read.hit.value as T;
  }

  async put(key: CacheKey, value: unknown, ttlMs: number): Promise<void> {
    if (this.settings.enabled === false) return;
    const json = JSON.stringify(value);
    const read = await this.shared?.read(key);
    if (read) await this.shared!.write(key, json, ttlMs, read);
    this.l1.set(key.encoded, { value, kind: key.kind }, json.length, ttlMs);
  }

  delete(key: CacheKey): Promise<void> {
    return this.deleteMany([key]);
  }

  async deleteMany(keys: readonly CacheKey[]): Promise<void> {
    if (keys.length === 0) return;
    const tier = this.shared?.tier;
    const sharedDelete = tier && (() => Promise.all(keys.map((key) => tier.delete(key, this.settings.ttlsMs[key.kind]))).then(() => {}));
    await this.invalidate({ keys: keys.map((key) => key.encoded) }, sharedDelete);
  }

  async deleteKind(tenantId: string, kind: CacheKind): Promise<void> {
    const ttlMs = this.settings.ttlsMs[kind];
    const tier = this.shared?.tier;
    await this.invalidate({ prefixes: [kindPrefix(tenantId, kind)] }, tier && (() => tier.deleteKind(tenantId, kind, ttlMs)));
  }

  stats(): CacheStats {
    const copy = (counts: Record<'l1' | 'l2', Record<CacheKind, number>>) => ({ l1: { ...counts.l1 }, l2: { ...counts.l2 } });
    return {
      hits: copy(this.hits),
      misses: copy(this.misses),
      hitRate: this.window.rates(this.hits, this.misses),
      evictions: { ...this.l1.evictions },
      l1Entries: this.l1.size,
      l1Bytes: this.l1.bytes,
      l2Errors: this.shared?.errors ?? 0,
      invalidationRetries: { pending: this.retries.size, givenUp: this.retries.givenUp },
      staleServed: { revalidating: { ...this.staleServed.revalidating }, store_unavailable: { ...this.staleServed.store_unavailable } },
      loadWaits: { ...(this.shared?.loadWaits ?? { filled: 0, timed_out: 0 }) },
    };
  }

  profile(): CacheProfile {
    return { tiers: this.shared ? ['l1', 'l2'] : ['l1'], ttlMs: { ...this.settings.ttlsMs }, ...this.settings.l1, hitRateWindowMs: HIT_RATE_WINDOW_MS };
  }

  tenantUsage(tenantId: string): { entries: number; bytes: number } {
    return this.l1.usage(tenantPrefix(tenantId));
  }

  /** `listener` hears how long each load (a read of the store) took, by kind. */
  observeLoads(listener: (kind: CacheKind, seconds: number) => void): void {
    this.loadListeners.push(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.sampling);
    this.retries.stop();
    await this.bus?.close();
  }

  private async fill(key: CacheKey, load: () => Promise<unknown>, flight: Flight): Promise<unknown> {
    const ttlMs = this.settings.ttlsMs[key.kind];
    let value: unknown;
    for (let attempt = 0; attempt < MAX_LOADS; attempt++) {
      flight.overtaken = false;
      let read = await this.shared?.read(key);
      let claim: string | undefined;
      if (read && !read.hit) {
        const claimed = await this.shared!.claim(key);
        if (claimed === HELD) read = await this.shared!.awaitOther(key, read);
        else claim = claimed;
      }
      try {
        if (read?.hit && !flight.overtaken) {
          this.hits.l2[key.kind]++;
          this.l1.set(key.encoded, { value: read.hit.value, kind: key.kind }, read.hit.bytes, Math.min(ttlMs, read.hit.ttlMs), this.graceFor(key.kind));
          return read.hit.value;
        }
        if (read && !read.hit) this.misses.l2[key.kind]++;
        if (flight.overtaken) continue;
        value = await this.timed(key.kind, load);
        if (flight.overtaken) continue;
        if (value === undefined) {
          this.l1.delete(key.encoded); // a stale entry of what is gone goes too
          return undefined;
        }
        const json = JSON.stringify(value);
        // Refused: an instance invalidated the key after this read; what was loaded may predate that.
        if (read && !(await this.shared!.write(key, json, ttlMs, read))) continue;
        if (flight.overtaken) continue;
        this.l1.set(key.encoded, { value, kind: key.kind }, json.length, ttlMs, this.graceFor(key.kind));
        return value;
      } finally {
        if (claim !== undefined) this.shared!.release(key, claim);
      }
    }
    return value;
  }

  /** API keys: their TTL bounds a missed revocation; skill results: the task said how long they may be used. */
  private graceFor(kind: CacheKind): number {
    return kind === 'api_key' || kind === 'skill_result' ? 0 : (this.settings.graceMs ?? 0);
  }

  private async timed(kind: CacheKind, load: () => Promise<unknown>): Promise<unknown> {
    const started = performance.now();
    try {
      return await load();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      for (const listener of this.loadListeners) listener(kind, seconds);
    }
  }

  /**
   * Here at once; then the shared tier and the other instances. When they cannot be told, it is
   * retried in the background, and meanwhile this instance reads those keys from the store only.
   */
  private async invalidate(invalidation: Invalidation, sharedDelete: (() => Promise<void>) | undefined): Promise<void> {
    this.forgetHere(invalidation);
    const propagate = async () => {
      await sharedDelete?.();
      await this.bus?.publish(invalidation);
    };
    try {
      await propagate();
    } catch (error) {
      this.shared?.failed(error, 'invalidate');
      this.unsettled.add(invalidation);
      this.retries.add(propagate, () => this.unsettled.delete(invalidation));
    }
  }

  /** Whether an invalidation of this key has not reached the shared tier yet (its entry there may be stale). */
  private unsettledFor(encoded: string): boolean {
    for (const { keys = [], prefixes = [] } of this.unsettled) {
      if (keys.includes(encoded) || prefixes.some((p) => encoded.startsWith(p))) return true;
    }
    return false;
  }

  private forgetHere({ keys = [], prefixes = [] }: Invalidation): void {
    for (const key of keys) {
      this.l1.delete(key);
      const flight = this.flights.get(key);
      if (flight) flight.overtaken = true;
    }
    for (const prefix of prefixes) {
      this.l1.deletePrefix(prefix);
      for (const [key, flight] of this.flights) if (key.startsWith(prefix)) flight.overtaken = true;
    }
  }

  private forgetAllHere(): void {
    this.l1.clear();
    for (const flight of this.flights.values()) flight.overtaken = true;
  }
}
