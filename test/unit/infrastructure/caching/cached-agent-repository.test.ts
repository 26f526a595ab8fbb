import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentRosterCacheKey } from '../../../../src/application/cache-keys.js';
import type { Agent } from '../../../../src/domain/index.js';
import { createTenant, heartbeatMissed, pause, registerAgent, reregisterAgent, resume, terminate } from '../../../../src/domain/index.js';
import { CachedAgentRepository, MAX_ROSTER } from '../../../../src/infrastructure/caching/cached-agent-repository.js';
import { inMemoryCache } from '../../../../src/infrastructure/caching/caches.js';
import { BrokerInvalidationBus } from '../../../../src/infrastructure/caching/invalidation-bus.js';
import { DEFAULT_CACHE_SETTINGS, type TieredCache } from '../../../../src/infrastructure/caching/tiered-cache.js';
import { InMemoryBroker } from '../../../../src/infrastructure/messaging/in-memory-broker.js';
import { openEmbeddedStore } from '../../../../src/infrastructure/persistence/embedded-store.js';
import type { Store } from '../../../../src/infrastructure/persistence/store.js';

const eventually = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
};

/** One store, two instances' caches on one bus: `writer` makes the changes (the leader), `reader` lists (a follower). */
describe('CachedAgentRepository', () => {
  let store: Store;
  let caches: TieredCache[];
  let writer: CachedAgentRepository;
  let reader: CachedAgentRepository;
  let now = 1_000;

  beforeAll(async () => {
    store = await openEmbeddedStore(undefined);
    for (const id of ['acme', 'globex']) await store.tenants.create(createTenant({ id }, now));
    const broker = new InMemoryBroker();
    caches = await Promise.all([0, 1].map(() => inMemoryCache(DEFAULT_CACHE_SETTINGS, { bus: new BrokerInvalidationBus(broker) })));
    writer = new CachedAgentRepository(store.agents, caches[0]!);
    reader = new CachedAgentRepository(store.agents, caches[1]!);
  });
  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()));
    await store.close();
  });

  const register = async (tenantId: string, id: string, capabilities: string[]) => {
    const { agent, events } = registerAgent({ tenantId, id, name: id, capabilities: capabilities.map((name) => ({ name })) }, now++);
    await writer.insert(agent, events);
    return agent;
  };
  const change = async (agent: Agent, step: (a: Agent, at: number) => { agent: Agent; events: any[] }) => {
    const { agent: changed, events } = step(agent, now++);
    await writer.save(changed, events);
    return changed;
  };
  const ids = async (repo: CachedAgentRepository, tenantId: string, filter: { capability?: string; status?: any } = {}) =>
    (await repo.list(tenantId, filter, { limit: 100 })).items.map((a) => `${a.id}:${a.status}`);
  const loads = (cache: TieredCache) => cache.stats().misses.l1.agent;

  it('answers listings from the roster once loaded, and each change of an agent reaches the rosters it is in on every instance', async () => {
    let scanner = await register('acme', 'scanner-1', ['scan', 'ocr']);
    await register('acme', 'writer-1', ['write']);
    expect(await ids(reader, 'acme', { capability: 'scan' })).toEqual(['scanner-1:available']);
    const missed = loads(caches[1]!);
    expect(await ids(reader, 'acme', { capability: 'scan' })).toEqual(['scanner-1:available']);
    expect(loads(caches[1]!)).toBe(missed);
    expect(await ids(reader, 'acme', { capability: 'write' })).toEqual(['writer-1:available']);
    expect(await ids(reader, 'acme')).toEqual(['scanner-1:available', 'writer-1:available']);

    scanner = await change(scanner, pause);
    await eventually(async () => (await ids(reader, 'acme', { capability: 'scan' }))[0] === 'scanner-1:paused');
    expect(await ids(reader, 'acme', { capability: 'scan' })).toEqual(['scanner-1:paused']);
    expect(await ids(reader, 'acme', { capability: 'ocr', status: 'paused' })).toEqual(['scanner-1:paused']);
    expect(await ids(reader, 'acme')).toEqual(['scanner-1:paused', 'writer-1:available']);

    scanner = await change(scanner, resume);
    await eventually(async () => (await ids(reader, 'acme', { capability: 'scan' }))[0] === 'scanner-1:available');
    // Dying silently: the sweeper's heartbeat-missed change.
    scanner = await change(scanner, heartbeatMissed);
    await eventually(async () => (await ids(reader, 'acme', { capability: 'ocr' }))[0] === 'scanner-1:unhealthy');
    expect(await ids(reader, 'acme', { status: 'unhealthy' })).toEqual(['scanner-1:unhealthy']);
    scanner = await change(scanner, terminate);
    await eventually(async () => (await ids(reader, 'acme', { capability: 'ocr' }))[0] === 'scanner-1:terminated');
    expect(await ids(reader, 'acme', { status: 'terminated' })).toEqual(['scanner-1:terminated']);
  });

  it('deletes exactly the rosters an agent is in: a change of one capability leaves the others cached', async () => {
    await register('acme', 'translator-1', ['translate']);
    const speaker = await register('acme', 'speaker-1', ['speak']);
    await ids(reader, 'acme', { capability: 'translate' });
    await ids(reader, 'acme', { capability: 'speak' });
    await ids(reader, 'globex');
    const before = loads(caches[1]!);
    await change(speaker, pause);
    await eventually(async () => (await ids(reader, 'acme', { capability: 'speak' }))[0] === 'speaker-1:paused');
    const reloaded = loads(caches[1]!) - before;
    // The 'speak' roster was loaded again; 'translate' and the other tenant's were not.
    await ids(reader, 'acme', { capability: 'translate' });
    await ids(reader, 'globex');
    expect(loads(caches[1]!) - before).toBe(reloaded);
    expect(reloaded).toBe(1);
  });

  it('a registration again with other capabilities leaves the rosters of the ones it dropped', async () => {
    const agent = await change(await register('acme', 'shifter-1', ['draw']), terminate);
    expect(await ids(reader, 'acme', { capability: 'draw' })).toEqual(['shifter-1:terminated']);
    const again = reregisterAgent(agent, { tenantId: 'acme', id: 'shifter-1', name: 'shifter-1', capabilities: [{ name: 'paint' }] }, now++, undefined, 30_000);
    await writer.save(again.agent, again.events);
    await eventually(async () => (await ids(reader, 'acme', { capability: 'draw' })).length === 0);
    expect(await ids(reader, 'acme', { capability: 'draw' })).toEqual([]);
    expect(await ids(reader, 'acme', { capability: 'paint' })).toEqual(['shifter-1:available']);
  });

  it('pages from the roster as the store does, and leaves to the store what it cannot answer', async () => {
    for (let i = 0; i < 5; i++) await register('globex', `pager-${i}`, ['page']);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await reader.list('globex', { capability: 'page' }, { limit: 2, ...(cursor !== undefined && { cursor }) });
      const fromStore = await store.agents.list('globex', { capability: 'page' }, { limit: 2, ...(cursor !== undefined && { cursor }) });
      expect(page).toEqual(fromStore);
      pages.push(page.items.map((a) => a.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(pages).toEqual([['pager-0', 'pager-1'], ['pager-2', 'pager-3'], ['pager-4']]);
    await expect(reader.list('globex', {}, { limit: 2, cursor: 'bogus' })).rejects.toThrow(/cursor/);
  });

  it('keeps no roster longer than MAX_ROSTER: such a listing is the store', async () => {
    await store.tenants.create(createTenant({ id: 'crowd', quotas: { maxAgents: MAX_ROSTER + 10 } }, now));
    for (let i = 0; i <= MAX_ROSTER; i++) {
      const { agent, events } = registerAgent({ tenantId: 'crowd', id: `member-${String(i).padStart(4, '0')}`, name: 'm', capabilities: [{ name: 'x' }] }, now);
      await store.agents.insert(agent, events);
    }
    const page = await reader.list('crowd', {}, { limit: 3 });
    expect(page.items.map((a) => a.id)).toEqual(['member-0000', 'member-0001', 'member-0002']);
    expect(caches[1]!.tenantUsage('crowd').bytes).toBeLessThan(100);
  });

  it('never answers one tenant with another tenant’s agents', async () => {
    await register('globex', 'only-globex', ['secret-cap']);
    expect(await ids(reader, 'acme', { capability: 'secret-cap' })).toEqual([]);
    expect(await ids(reader, 'globex', { capability: 'secret-cap' })).toEqual(['only-globex:available']);
    expect(agentRosterCacheKey('acme', 'x').encoded).not.toBe(agentRosterCacheKey('globex', 'x').encoded);
  });
});
