import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../../../src/application/cache-keys.js';
import { UnavailableError } from '../../../../src/domain/index.js';
import { inMemoryCache } from '../../../../src/infrastructure/caching/caches.js';
import type { CacheSettings } from '../../../../src/infrastructure/caching/tiered-cache.js';

const TTL_MS = 100;
const GRACE_MS = 400;
const SETTINGS: CacheSettings = { ttlsMs: { agent: TTL_MS, message: TTL_MS, tenant_config: TTL_MS, api_key: TTL_MS, skill_result: TTL_MS }, l1: { maxEntries: 100, maxBytes: 1 << 20 }, graceMs: GRACE_MS };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A store read that can be held at a gate, or made to fail like a store that is down. */
function store() {
  const s = {
    version: 1,
    down: false,
    calls: 0,
    gate: Promise.resolve(),
    load: async () => {
      s.calls++;
      await s.gate;
      if (s.down) throw new UnavailableError('the store is down');
      return { version: s.version };
    },
  };
  return s;
}

describe('stale-while-revalidate and grace (in memory)', () => {
  it('past its TTL an entry answers at once while one load refreshes it; the next read has the new value', async () => {
    const cache = await inMemoryCache(SETTINGS);
    const s = store();
    const key = cacheKey('acme', 'tenant_config', 'acme');
    expect(await cache.getOrLoad(key, s.load)).toEqual({ version: 1 });
    await sleep(TTL_MS + 20);
    s.version = 2;
    let open!: () => void;
    s.gate = new Promise((r) => (open = r));
    // Ten readers while the refresh is held: all answered stale at once, one load.
    const answers = await Promise.all(Array.from({ length: 10 }, () => cache.getOrLoad(key, s.load)));
    expect(answers.every((a) => (a as { version: number }).version === 1)).toBe(true);
    expect(s.calls).toBe(2);
    expect(cache.stats().staleServed.revalidating.tenant_config).toBe(10);
    open();
    await sleep(5);
    expect(await cache.getOrLoad(key, s.load)).toEqual({ version: 2 });
    expect(s.calls).toBe(2);
  });

  it('while the store is down, a stale entry answers for its grace period (counted), then the read fails', async () => {
    const cache = await inMemoryCache(SETTINGS);
    const s = store();
    const key = cacheKey('acme', 'agent', 'all');
    await cache.getOrLoad(key, s.load);
    s.down = true;
    await sleep(TTL_MS + 20);
    expect(await cache.getOrLoad(key, s.load)).toEqual({ version: 1 });
    await sleep(5);
    expect(await cache.getOrLoad(key, s.load)).toEqual({ version: 1 });
    const { staleServed } = cache.stats();
    expect(staleServed.revalidating.agent).toBe(1);
    expect(staleServed.store_unavailable.agent).toBe(1);
    await sleep(GRACE_MS);
    await expect(cache.getOrLoad(key, s.load)).rejects.toThrow(UnavailableError);
    s.down = false;
    expect(await cache.getOrLoad(key, s.load)).toEqual({ version: 1 });
  });

  it('never serves an API key past its TTL: it bounds a revocation another instance missed', async () => {
    const cache = await inMemoryCache(SETTINGS);
    const s = store();
    const key = cacheKey('#keys', 'api_key', 'hash');
    await cache.getOrLoad(key, s.load);
    s.down = true;
    await sleep(TTL_MS + 20);
    await expect(cache.getOrLoad(key, s.load)).rejects.toThrow(UnavailableError);
    expect(cache.stats().staleServed.revalidating.api_key).toBe(0);
  });

  it('an invalidation drops the stale entry too; a refresh that finds nothing drops it', async () => {
    const cache = await inMemoryCache(SETTINGS);
    const s = store();
    const key = cacheKey('acme', 'agent', 'cap:x');
    await cache.getOrLoad(key, s.load);
    await sleep(TTL_MS + 20);
    await cache.delete(key);
    s.version = 3;
    expect(await cache.getOrLoad(key, s.load)).toEqual({ version: 3 });
    await sleep(TTL_MS + 20);
    expect(await cache.getOrLoad(key, async () => undefined)).toEqual({ version: 3 });
    await sleep(5);
    expect(await cache.getOrLoad(key, async () => undefined)).toBeUndefined();
  });

  it('without a grace period, an entry past its TTL is loaded again before the read answers', async () => {
    const cache = await inMemoryCache({ ...SETTINGS, graceMs: 0 });
    const s = store();
    const key = cacheKey('acme', 'tenant_config', 'acme');
    await cache.getOrLoad(key, s.load);
    await sleep(TTL_MS + 20);
    s.version = 2;
    expect(await cache.getOrLoad(key, s.load)).toEqual({ version: 2 });
  });
});
