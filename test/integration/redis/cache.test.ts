import { afterAll, describe, expect, it } from 'vitest';
import { cacheKey } from '../../../src/application/cache-keys.js';
import { redisTwoTierCache } from '../../../src/infrastructure/caching/caches.js';
import { RedisConnection } from '../../../src/infrastructure/caching/redis-client.js';
import type { CacheSettings, TieredCache } from '../../../src/infrastructure/caching/tiered-cache.js';
import { LOAD_WAIT_MS } from '../../../src/infrastructure/caching/shared-access.js';
import { UnavailableError } from '../../../src/domain/index.js';
import { cacheContract, CONTRACT_SETTINGS, readOvertakenByDelete } from '../../contracts/cache.contract.js';
import { cacheIsolationProperty } from '../../contracts/cache-isolation.property.js';
import { deleteKeyPrefixes, newKeyPrefix, redisUrl } from '../../support/redis.js';
import { TcpProxy } from '../../support/tcp-proxy.js';

const connections: RedisConnection[] = [];
const prefixes: string[] = [];

/** `count` instances of one mesh: each its own connection, one key prefix. */
async function instances(count: number, settings = CONTRACT_SETTINGS, url = redisUrl!): Promise<TieredCache[]> {
  const prefix = newKeyPrefix();
  prefixes.push(prefix);
  return Promise.all(
    Array.from({ length: count }, async () => {
      const connection = await RedisConnection.connect(url, { keyPrefix: prefix, connectTimeoutMs: 2000 });
      connections.push(connection);
      return redisTwoTierCache(connection, settings);
    }),
  );
}

afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await deleteKeyPrefixes(prefixes);
});

describe.skipIf(redisUrl === null)('Redis two-tier cache', () => {
  cacheContract('Redis two tiers', (count, settings) => instances(count, settings));
  cacheIsolationProperty('Redis two tiers, two instances', () => instances(2), 25);

  it('a load another instance overtook is not written to Redis: a third instance does not read it', async () => {
    const [a, b, c] = await instances(3);
    const key = cacheKey('acme', 'api_key', 'raced');
    expect(await readOvertakenByDelete(b!, (k) => a!.delete(k), key)).toEqual({ version: 2 });
    expect(await c!.getOrLoad(key, async () => ({ version: 'not asked' }))).toEqual({ version: 2 });
  });

  it("keeps every entry under the mesh's prefix and its tenant, and refuses an entry written for another tenant", async () => {
    const [cache] = await instances(1);
    const connection = connections.at(-1)!;
    await cache!.getOrLoad(cacheKey('acme', 'tenant_config', 'acme'), async () => ({ id: 'acme' }));
    const keys = await connection.redis.keys(`${connection.keyPrefix}:*`);
    expect(keys).toContain(`${connection.keyPrefix}:cache:{acme}:tenant_config:acme`);
    // An entry of globex planted under acme's key (a bug, or a hand in Redis) is a miss, not globex's data.
    const planted = cacheKey('acme', 'agent', 'a1');
    await connection.redis.set(`${connection.keyPrefix}:cache:${planted.encoded}`, JSON.stringify({ s: 'globex', e: '', v: { secret: 'globex' } }), 'PX', 60_000);
    const [fresh] = await instances(1);
    expect(await fresh!.getOrLoad(planted, async () => ({ mine: true }))).toEqual({ mine: true });
  });

  it('an instance whose invalidation bus reconnected drops what it holds in memory (it may have missed some)', async () => {
    const { proxy, url: viaProxy } = await TcpProxy.inFrontOf(redisUrl!, 6379);
    try {
      const [a] = await instances(1);
      const prefix = prefixes.at(-1)!;
      const behind = await RedisConnection.connect(viaProxy, { keyPrefix: prefix, connectTimeoutMs: 2000 });
      connections.push(behind);
      const b = await redisTwoTierCache(behind, CONTRACT_SETTINGS);
      const key = cacheKey('acme', 'agent', 'gap');
      let version = 1;
      await b.getOrLoad(key, async () => ({ version }));
      await proxy.cut();
      version = 2;
      await a!.delete(key); // b does not hear it
      await proxy.restore();
      const until = Date.now() + 5_000;
      while (b.stats().l1Entries > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(await b.getOrLoad(key, async () => ({ version }))).toEqual({ version: 2 });
      await b.close();
    } finally {
      await proxy.close();
    }
  });
});

describe.skipIf(redisUrl === null)('Redis two-tier cache: one load per key across instances, stale entries within grace', () => {
  /** A store read taking `ms`, failing like a store that is down when `fail`; `calls` counts them. */
  const slowLoad = (ms: number, fail = false) => {
    const load = Object.assign(
      async () => {
        load.calls++;
        await new Promise((r) => setTimeout(r, ms));
        if (fail) throw new UnavailableError('the store is down');
        return { loaded: true };
      },
      { calls: 0 },
    );
    return load;
  };

  it('a flood of distinct keys over two instances keeps each L1 within its bounds, and every entry in Redis has a TTL', async () => {
    const settings: CacheSettings = { ...CONTRACT_SETTINGS, l1: { maxEntries: 200, maxBytes: 64 * 1024 } };
    const [a, b] = await instances(2, settings);
    const prefix = prefixes.at(-1)!;
    const payload = 'x'.repeat(100);
    for (let i = 0; i < 3_000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => (j % 2 === 0 ? a! : b!).getOrLoad(cacheKey(`tenant-${(i + j) % 97}`, 'agent', `flood-${i + j}`), async () => ({ payload }))));
    }
    for (const cache of [a!, b!]) {
      const stats = cache.stats();
      expect(stats.l1Entries).toBeLessThanOrEqual(200);
      expect(stats.l1Bytes).toBeLessThanOrEqual(64 * 1024);
      expect(stats.evictions.agent).toBeGreaterThan(1_000);
    }
    const connection = connections.at(-1)!;
    // SCAN may return a key more than once (while Redis rehashes, as other suites write): count each once.
    const found = new Set<string>();
    for await (const batch of connection.redis.scanStream({ match: `${prefix}:cache:*:agent:flood-*`, count: 1000 }) as AsyncIterable<string[]>) for (const key of batch) found.add(key);
    const keys = [...found];
    expect(keys.length).toBe(3_000);
    const ttls = await Promise.all(keys.slice(0, 200).map((k) => connection.redis.pttl(k)));
    expect(ttls.every((ms) => ms > 0 && ms <= CONTRACT_SETTINGS.ttlsMs.agent)).toBe(true);
  });

  it('100 concurrent reads of one key over two instances make one load; the other instance waits for it in Redis', async () => {
    const [a, b] = await instances(2);
    const key = cacheKey('acme', 'agent', 'stampede');
    const load = slowLoad(50);
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a! : b!).getOrLoad(key, load)));
    expect(answers.every((x) => JSON.stringify(x) === '{"loaded":true}')).toBe(true);
    expect(load.calls).toBe(1);
    expect(a!.stats().loadWaits.filled + b!.stats().loadWaits.filled).toBe(1);
  });

  it('when the instance that holds a load fails it, the other loads by itself after a bounded wait', async () => {
    const [a, b] = await instances(2);
    const key = cacheKey('acme', 'agent', 'holder-fails');
    const failing = slowLoad(20, true);
    const held = a!.getOrLoad(key, failing).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    const fallback = slowLoad(0);
    expect(await b!.getOrLoad(key, fallback)).toEqual({ loaded: true });
    const waited = performance.now() - started;
    expect(await held).toBeInstanceOf(UnavailableError);
    expect(fallback.calls).toBe(1);
    expect(b!.stats().loadWaits.timed_out).toBe(1);
    expect(waited).toBeGreaterThanOrEqual(LOAD_WAIT_MS - 10);
    expect(waited).toBeLessThan(LOAD_WAIT_MS + 500);
  });

  it('with Redis cut and the store down, an entry past its TTL answers stale within its grace period, and says so', async () => {
    const { proxy, url: viaProxy } = await TcpProxy.inFrontOf(redisUrl!, 6379);
    try {
      const prefix = newKeyPrefix();
      prefixes.push(prefix);
      const behind = await RedisConnection.connect(viaProxy, { keyPrefix: prefix, connectTimeoutMs: 2000 });
      connections.push(behind);
      const settings: CacheSettings = { ...CONTRACT_SETTINGS, ttlsMs: { ...CONTRACT_SETTINGS.ttlsMs, tenant_config: 100 }, graceMs: 2_000 };
      const cache = await redisTwoTierCache(behind, settings);
      const key = cacheKey('acme', 'tenant_config', 'acme');
      expect(await cache.getOrLoad(key, async () => ({ quota: 10 }))).toEqual({ quota: 10 });
      await proxy.cut();
      await new Promise((r) => setTimeout(r, 150));
      const down = slowLoad(0, true);
      expect(await cache.getOrLoad(key, down)).toEqual({ quota: 10 });
      await new Promise((r) => setTimeout(r, 50));
      expect(await cache.getOrLoad(key, down)).toEqual({ quota: 10 });
      const stats = cache.stats();
      expect(stats.staleServed.revalidating.tenant_config).toBe(1);
      expect(stats.staleServed.store_unavailable.tenant_config).toBe(1);
      expect(stats.l2Errors).toBeGreaterThan(0);
      await proxy.restore();
      await cache.close();
    } finally {
      await proxy.close();
    }
  });
});
