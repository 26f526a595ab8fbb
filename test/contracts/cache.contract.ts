import { afterEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/application/cache-keys.js';
import type { Cache, CacheKey } from '../../src/application/ports.js';
import type { CacheSettings } from '../../src/infrastructure/caching/tiered-cache.js';

/** Short TTLs, so that expiry can be seen in a test. */
export const CONTRACT_SETTINGS: CacheSettings = {
  ttlsMs: { agent: 300_000, message: 60_000, tenant_config: 3_600_000, api_key: 300, skill_result: 60_000 },
  l1: { maxEntries: 1_000, maxBytes: 1024 * 1024 },
};

/**
 * Reads `key` on `reader` with a load that sees version 1 of the store and then waits; meanwhile
 * the store moves to version 2 and `invalidate` runs. Resolves what the read answered (it must be
 * version 2: what was loaded before the invalidation is neither answered nor kept).
 */
export async function readOvertakenByDelete(reader: Cache, invalidate: (key: CacheKey) => Promise<void>, key: CacheKey): Promise<unknown> {
  let version = 1;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const reading = reader.getOrLoad(key, async () => {
    const seen = version;
    if (seen === 1) await gate;
    return { version: seen };
  });
  await new Promise((r) => setTimeout(r, 20));
  version = 2;
  await invalidate(key);
  release();
  return reading;
}

/**
 * `instances(n)`: n caches that share what instances of a mesh share (the Redis tier and its bus,
 * or the broker's bus), made fresh for each test.
 */
export function cacheContract(name: string, instances: (count: number, settings: CacheSettings) => Promise<Cache[]>): void {
  describe(`Cache contract: ${name}`, () => {
    const made: Cache[] = [];
    const make = async (count = 1, settings = CONTRACT_SETTINGS) => {
      const caches = await instances(count, settings);
      made.push(...caches);
      return caches;
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((c) => c.close()));
    });
    let n = 0;
    const tenant = () => `tenant-${++n}-${Date.now()}`;
    const counting = <T>(value: () => T) => {
      const loader = Object.assign(async () => (loader.calls++, value()), { calls: 0 });
      return loader;
    };

    it('loads once, then answers from the cache; nothing is cached for a value that is not there', async () => {
      const [cache] = await make();
      const key = cacheKey(tenant(), 'tenant_config', 'cfg');
      const load = counting(() => ({ maxAgents: 7 }));
      expect(await cache!.getOrLoad(key, load)).toEqual({ maxAgents: 7 });
      expect(await cache!.getOrLoad(key, load)).toEqual({ maxAgents: 7 });
      expect(load.calls).toBe(1);
      const missing = counting(() => undefined);
      const absent = cacheKey(key.tenantId, 'tenant_config', 'absent');
      expect(await cache!.getOrLoad(absent, missing)).toBeUndefined();
      expect(await cache!.getOrLoad(absent, missing)).toBeUndefined();
      expect(missing.calls).toBe(2);
    });

    it('keeps tenants and kinds apart: the same id under another tenant or kind is another entry', async () => {
      const [cache] = await make();
      const [a, b] = [tenant(), tenant()];
      expect(await cache!.getOrLoad(cacheKey(a, 'agent', 'x'), async () => ({ owner: a }))).toEqual({ owner: a });
      expect(await cache!.getOrLoad(cacheKey(b, 'agent', 'x'), async () => ({ owner: b }))).toEqual({ owner: b });
      expect(await cache!.getOrLoad(cacheKey(a, 'message', 'x'), async () => ({ owner: 'message' }))).toEqual({ owner: 'message' });
      expect(await cache!.getOrLoad(cacheKey(a, 'agent', 'x'), async () => ({ owner: 'reloaded' }))).toEqual({ owner: a });
    });

    it('runs one load per key at a time: concurrent readers share it', async () => {
      const [cache] = await make();
      const key = cacheKey(tenant(), 'agent', 'busy');
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const load = Object.assign(
        async () => {
          load.calls++;
          await gate;
          return { v: 1 };
        },
        { calls: 0 },
      );
      const readers = Array.from({ length: 50 }, () => cache!.getOrLoad(key, load));
      release();
      expect(new Set((await Promise.all(readers)).map((r) => JSON.stringify(r)))).toEqual(new Set(['{"v":1}']));
      expect(load.calls).toBe(1);
    });

    it('delete drops the entry: the next read loads again', async () => {
      const [cache] = await make();
      const key = cacheKey(tenant(), 'api_key', 'hash-1');
      let version = 1;
      const load = async () => ({ version });
      expect(await cache!.getOrLoad(key, load)).toEqual({ version: 1 });
      version = 2;
      await cache!.delete(key);
      expect(await cache!.getOrLoad(key, load)).toEqual({ version: 2 });
    });

    it('never answers, nor keeps, what a load read before a delete that overtook it', async () => {
      const [cache] = await make();
      const key = cacheKey(tenant(), 'api_key', 'racing');
      expect(await readOvertakenByDelete(cache!, (k) => cache!.delete(k), key)).toEqual({ version: 2 });
      expect(await cache!.getOrLoad(key, async () => ({ version: 'not asked' }))).toEqual({ version: 2 });
    });

    it("deleteKind drops every entry of that tenant's kind, and nothing else", async () => {
      const [cache] = await make();
      const [a, b] = [tenant(), tenant()];
      const keys = [cacheKey(a, 'agent', 'one'), cacheKey(a, 'agent', 'two'), cacheKey(a, 'message', 'one'), cacheKey(b, 'agent', 'one')];
      for (const key of keys) await cache!.getOrLoad(key, async () => ({ gen: 1 }));
      await cache!.deleteKind(a, 'agent');
      const after = await Promise.all(keys.map((key) => cache!.getOrLoad(key, async () => ({ gen: 2 }))));
      expect(after.map((v) => (v as { gen: number }).gen)).toEqual([2, 2, 1, 1]);
    });

    it("an entry lives its kind's TTL", async () => {
      const [cache] = await make();
      const key = cacheKey(tenant(), 'api_key', 'short');
      const load = counting(() => ({ ok: true }));
      await cache!.getOrLoad(key, load);
      await cache!.getOrLoad(key, load);
      expect(load.calls).toBe(1);
      await new Promise((r) => setTimeout(r, CONTRACT_SETTINGS.ttlsMs.api_key + 100));
      await cache!.getOrLoad(key, load);
      expect(load.calls).toBe(2);
    });

    it('counts hits and misses per tier and kind', async () => {
      const [cache] = await make();
      const key = cacheKey(tenant(), 'tenant_config', 'cfg');
      const before = cache!.stats();
      await cache!.getOrLoad(key, async () => ({ v: 1 }));
      await cache!.getOrLoad(key, async () => ({ v: 1 }));
      const after = cache!.stats();
      expect(after.misses.l1.tenant_config - before.misses.l1.tenant_config).toBe(1);
      expect(after.hits.l1.tenant_config - before.hits.l1.tenant_config).toBe(1);
      expect(after.l1Entries).toBeGreaterThanOrEqual(1);
      expect(after.l1Bytes).toBeGreaterThan(0);
    });

    it('a delete on one instance reaches the memory of the others', async () => {
      const [a, b] = await make(2);
      const key = cacheKey(tenant(), 'api_key', 'shared');
      let version = 1;
      const load = async () => ({ version });
      expect(await a!.getOrLoad(key, load)).toEqual({ version: 1 });
      expect(await b!.getOrLoad(key, load)).toEqual({ version: 1 });
      version = 2;
      await a!.delete(key);
      const start = Date.now();
      for (;;) {
        const seen = (await b!.getOrLoad(key, load)) as { version: number };
        if (seen.version === 2) break;
        expect(Date.now() - start, 'the other instance to drop the entry').toBeLessThan(1_000);
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(await b!.getOrLoad(key, load)).toEqual({ version: 2 });
    });
  });
}
