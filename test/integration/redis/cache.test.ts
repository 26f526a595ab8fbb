import { afterAll, describe, expect, it } from 'vitest';
import { cacheKey } from '../../../src/application/cache-keys.js';
import { redisTwoTierCache } from '../../../src/infrastructure/caching/caches.js';
import { RedisConnection } from '../../../src/infrastructure/caching/redis-client.js';
import type { TieredCache } from '../../../src/infrastructure/caching/tiered-cache.js';
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
    const proxy = await TcpProxy.start(new URL(redisUrl!).hostname, Number(new URL(redisUrl!).port || 6379));
    try {
      const [a] = await instances(1);
      const prefix = prefixes.at(-1)!;
      const behind = await RedisConnection.connect(`redis://127.0.0.1:${proxy.port}`, { keyPrefix: prefix, connectTimeoutMs: 2000 });
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
