import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../../../src/application/cache-keys.js';
import type { CacheKey, CacheKind } from '../../../../src/application/ports.js';
import { UnavailableError } from '../../../../src/domain/index.js';
import { BrokerInvalidationBus } from '../../../../src/infrastructure/caching/invalidation-bus.js';
import { inMemoryCache } from '../../../../src/infrastructure/caching/caches.js';
import type { SharedRead, SharedTier, WriteToken } from '../../../../src/infrastructure/caching/redis-cache-tier.js';
import { TieredCache } from '../../../../src/infrastructure/caching/tiered-cache.js';
import { InMemoryBroker } from '../../../../src/infrastructure/messaging/in-memory-broker.js';
import { cacheContract, CONTRACT_SETTINGS, readOvertakenByDelete } from '../../../contracts/cache.contract.js';
import { cacheIsolationProperty } from '../../../contracts/cache-isolation.property.js';

// Instances of one mesh without Redis: memory each, invalidations over the broker they share.
cacheContract('in memory', async (count, settings) => {
  const broker = new InMemoryBroker();
  return Promise.all(Array.from({ length: count }, () => inMemoryCache(settings, { bus: new BrokerInvalidationBus(broker) })));
});

/** A shared tier in memory with the Redis tier's epochs, which can be switched off as Redis going away. */
class FakeShared implements SharedTier {
  readonly entries = new Map<string, string>();
  private readonly epochs = new Map<string, number>();
  down = false;
  async read(key: CacheKey): Promise<SharedRead> {
    this.check();
    const token = this.token(key);
    const json = this.entries.get(key.encoded);
    return json === undefined ? { token } : { hit: { value: JSON.parse(json), ttlMs: 60_000, bytes: json.length }, token };
  }
  async write(key: CacheKey, json: string, _ttlMs: number, token: WriteToken): Promise<boolean> {
    this.check();
    const now = this.token(key);
    if (now.keyEpoch !== token.keyEpoch || now.kindEpoch !== token.kindEpoch) return false;
    this.entries.set(key.encoded, json);
    return true;
  }
  async delete(key: CacheKey): Promise<void> {
    this.check();
    this.entries.delete(key.encoded);
    this.epochs.set(key.encoded, (this.epochs.get(key.encoded) ?? 0) + 1);
  }
  async deleteKind(tenantId: string, kind: CacheKind): Promise<void> {
    this.check();
    const prefix = cacheKey(tenantId, kind, 'x').encoded.slice(0, -1);
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
  }
  readonly locks = new Map<string, { token: string; until: number }>();
  async lock(key: CacheKey, ttlMs: number): Promise<string | undefined> {
    this.check();
    const held = this.locks.get(key.encoded);
    if (held && held.until > Date.now()) return undefined;
    const token = Math.random().toString(36);
    this.locks.set(key.encoded, { token, until: Date.now() + ttlMs });
    return token;
  }
  async unlock(key: CacheKey, token: string): Promise<void> {
    this.check();
    if (this.locks.get(key.encoded)?.token === token) this.locks.delete(key.encoded);
  }
  private token(key: CacheKey): WriteToken {
    return { keyEpoch: String(this.epochs.get(key.encoded) ?? ''), kindEpoch: '' };
  }
  private check(): void {
    if (this.down) throw new UnavailableError('Redis is unavailable');
  }
}

describe('TieredCache', () => {
  it('bounds its memory by entries, and counts what it evicted by kind', async () => {
    const cache = new TieredCache({ ...CONTRACT_SETTINGS, l1: { maxEntries: 10, maxBytes: 1024 * 1024 } });
    for (let i = 0; i < 25; i++) await cache.getOrLoad(cacheKey('acme', 'agent', `a${i}`), async () => ({ i }));
    const stats = cache.stats();
    expect(stats.l1Entries).toBe(10);
    expect(stats.evictions.agent).toBe(15);
  });

  it('bounds its memory by bytes (JSON length), and keeps no value larger than the bound', async () => {
    const cache = new TieredCache({ ...CONTRACT_SETTINGS, l1: { maxEntries: 1000, maxBytes: 2_000 } });
    const big = 'x'.repeat(300);
    for (let i = 0; i < 20; i++) await cache.getOrLoad(cacheKey('acme', 'message', `m${i}`), async () => ({ big }));
    expect(cache.stats().l1Bytes).toBeLessThanOrEqual(2_000);
    expect(cache.stats().l1Entries).toBeLessThan(20);
    const huge = cacheKey('acme', 'message', 'huge');
    let loads = 0;
    for (let i = 0; i < 2; i++) await cache.getOrLoad(huge, async () => (loads++, { v: 'y'.repeat(5_000) }));
    expect(loads).toBe(2);
  });

  it('answers from the shared tier on a miss in memory, and counts it as an l2 hit', async () => {
    const shared = new FakeShared();
    const first = new TieredCache(CONTRACT_SETTINGS, shared);
    const second = new TieredCache(CONTRACT_SETTINGS, shared);
    const key = cacheKey('acme', 'tenant_config', 'acme');
    await first.getOrLoad(key, async () => ({ quota: 1 }));
    expect(await second.getOrLoad(key, async () => ({ quota: 'not asked' }))).toEqual({ quota: 1 });
    expect(second.stats().hits.l2.tenant_config).toBe(1);
    expect(first.stats().misses.l2.tenant_config).toBe(1);
  });

  it('while the shared tier is down, the store answers; reads do not fail', async () => {
    const shared = new FakeShared();
    shared.down = true;
    const cache = new TieredCache(CONTRACT_SETTINGS, shared);
    const key = cacheKey('acme', 'api_key', 'h');
    expect(await cache.getOrLoad(key, async () => ({ ok: 1 }))).toEqual({ ok: 1 });
    expect(cache.stats().l2Errors).toBeGreaterThanOrEqual(1);
  });

  it('a delete the shared tier missed is retried, and meanwhile this instance does not read the stale entry there', async () => {
    const shared = new FakeShared();
    const cache = new TieredCache(CONTRACT_SETTINGS, shared);
    const key = cacheKey('acme', 'api_key', 'revoked');
    let revoked = false;
    const load = async () => ({ revoked });
    await cache.getOrLoad(key, load);
    shared.down = true;
    revoked = true;
    await cache.delete(key);
    shared.down = false;
    // Redis is back before the retry: the stale entry is still there, but this instance reads the store.
    expect(await cache.getOrLoad(key, load)).toEqual({ revoked: true });
    await new Promise((r) => setTimeout(r, 1_200));
    expect(shared.entries.has(key.encoded)).toBe(false);
    await cache.close();
  });

  it('a load that an invalidation overtook on another instance is not written to the shared tier', async () => {
    const shared = new FakeShared();
    const a = new TieredCache(CONTRACT_SETTINGS, shared);
    const b = new TieredCache(CONTRACT_SETTINGS, shared);
    const key = cacheKey('acme', 'api_key', 'race');
    // b's write was refused (the key's epoch moved), so b loaded again.
    expect(await readOvertakenByDelete(b, (k) => a.delete(k), key)).toEqual({ version: 2 });
    const fresh = new TieredCache(CONTRACT_SETTINGS, shared);
    expect(await fresh.getOrLoad(key, async () => ({ version: 'not asked' }))).toEqual({ version: 2 });
  });
});

describe('TieredCache properties', () => {
  cacheIsolationProperty('in memory, two instances on one broker', async () => {
    const broker = new InMemoryBroker();
    return Promise.all([0, 1].map(() => inMemoryCache(CONTRACT_SETTINGS, { bus: new BrokerInvalidationBus(broker) })));
  });
  cacheIsolationProperty('in memory and a shared tier, two instances', async () => {
    const shared = new FakeShared();
    return [new TieredCache(CONTRACT_SETTINGS, shared), new TieredCache(CONTRACT_SETTINGS, shared)];
  });
});

describe('TieredCache turned off (AGENTMESH_CACHE=off, to measure the cache)', () => {
  it('loads every read, keeps nothing, and counts each read as a miss', async () => {
    const cache = await inMemoryCache({ ...CONTRACT_SETTINGS, enabled: false });
    const key = cacheKey('acme', 'tenant_config', 'acme');
    let loads = 0;
    const load = async () => ({ n: ++loads });
    expect(await cache.getOrLoad(key, load)).toEqual({ n: 1 });
    expect(await cache.getOrLoad(key, load)).toEqual({ n: 2 });
    await cache.put(key, { n: 99 }, 60_000);
    expect(await cache.peek(key)).toBeUndefined();
    expect(cache.stats()).toMatchObject({ l1Entries: 0, misses: { l1: { tenant_config: 2 } }, hits: { l1: { tenant_config: 0 } } });
    await cache.close();
  });
});
