import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheWarmer } from '../../../src/application/cache-warmer.js';
import type { Logger } from '../../../src/application/logger.js';
import { createTenant, registerAgent, terminate } from '../../../src/domain/index.js';
import { CachedAgentRepository } from '../../../src/infrastructure/caching/cached-agent-repository.js';
import { CachedTenantRepository } from '../../../src/infrastructure/caching/cached-tenant-repository.js';
import { inMemoryCache } from '../../../src/infrastructure/caching/caches.js';
import { DEFAULT_CACHE_SETTINGS, type TieredCache } from '../../../src/infrastructure/caching/tiered-cache.js';
import { openEmbeddedStore } from '../../../src/infrastructure/persistence/embedded-store.js';
import type { Store } from '../../../src/infrastructure/persistence/store.js';
import { captureLines } from '../../support/log-capture.js';

describe('CacheWarmer', () => {
  let store: Store;
  let cache: TieredCache;
  let tenants: CachedTenantRepository;
  let agents: CachedAgentRepository;
  const log = captureLines();
  const logger = pino({ level: 'info' }, log.stream) as unknown as Logger;

  beforeAll(async () => {
    store = await openEmbeddedStore(undefined);
    cache = await inMemoryCache(DEFAULT_CACHE_SETTINGS);
    tenants = new CachedTenantRepository(store.tenants, cache);
    agents = new CachedAgentRepository(store.agents, cache);
    for (const id of ['acme', 'globex']) await store.tenants.create(createTenant({ id }, 1));
    const add = async (tenantId: string, id: string, capabilities: string[]) => {
      const { agent, events } = registerAgent({ tenantId, id, name: id, capabilities: capabilities.map((name) => ({ name })) }, 1);
      await store.agents.insert(agent, events);
      return agent;
    };
    await add('acme', 'scan-1', ['scan', 'ocr']);
    await add('acme', 'write-1', ['write']);
    const gone = await add('globex', 'old-1', ['retired']);
    const ended = terminate(gone, 2);
    await store.agents.save(ended.agent, ended.events);
    await add('globex', 'sum-1', ['summarize']);
  });
  afterAll(async () => {
    await cache.close();
    await store.close();
  });

  it("loads every tenant's configuration and its rosters (all agents, and each live capability), then reads nothing cached again", async () => {
    const warmer = new CacheWarmer(tenants, agents, logger, 10_000);
    const report = await warmer.warm();
    // acme: all + scan, ocr, write; globex: all + summarize (a terminated agent's capability is not warmed).
    expect(report).toMatchObject({ tenants: 2, rosters: 6, truncated: false });
    expect(cache.tenantUsage('acme').entries).toBe(5);
    expect(cache.tenantUsage('globex').entries).toBe(3);
    const loaded = cache.stats().misses.l1;
    const listed = await agents.list('acme', { capability: 'ocr' }, { limit: 10 });
    expect(listed.items.map((a) => a.id)).toEqual(['scan-1']);
    await tenants.get('globex');
    expect(cache.stats().misses.l1).toEqual(loaded);
    // A second warming finds it all cached: nothing is read from the store.
    await warmer.warm();
    expect(cache.stats().misses.l1).toEqual(loaded);
    const lines = log.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('cache warm'));
    expect(lines.map((l) => l.msg)).toContain('cache warming started');
    expect(lines.find((l) => l.msg === 'cache warmed')).toMatchObject({ tenants: 2, rosters: 6, truncated: false });
  });

  it("warms one tenant only when asked, and stops at L1's bound", async () => {
    await cache.deleteKind('acme', 'agent');
    await cache.deleteKind('globex', 'agent');
    expect(await new CacheWarmer(tenants, agents, logger, 10_000).warm('globex')).toMatchObject({ tenants: 1, rosters: 2 });
    expect(cache.tenantUsage('acme').entries).toBe(1);
    const bounded = await new CacheWarmer(tenants, agents, logger, 3).warm();
    expect(bounded).toMatchObject({ tenants: 0, truncated: true });
  });

  it('stops at the next tenant when asked, and waits for the warming under way', async () => {
    await cache.deleteKind('acme', 'agent');
    await cache.deleteKind('globex', 'agent');
    const warmer = new CacheWarmer(tenants, agents, logger, 10_000);
    const running = warmer.warm();
    await warmer.stop();
    expect((await running).tenants).toBeLessThan(2);
  });

  it('joins a warming under way rather than starting a second', async () => {
    const warmer = new CacheWarmer(tenants, agents, logger, 10_000);
    const [first, second] = [warmer.warm(), warmer.warm()];
    expect(first).toBe(second);
    expect(warmer.warm('acme')).not.toBe(first);
    // One for all tenants and one for acme, as agentmesh_cache_warmings_running shows.
    expect(warmer.inProgress).toBe(2);
    await first;
    await warmer.warm('acme');
    expect(warmer.inProgress).toBe(0);
    const third = warmer.warm();
    expect(third).not.toBe(first);
    await third;
  });
});
