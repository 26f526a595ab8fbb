import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentRosterCacheKey } from '../../../src/application/cache-keys.js';
import { expectStatus, registerAgent, submitTask, waitForTaskStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';
import { deleteNamespaceStreams, natsUrl, newNamespace } from '../../support/nats.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';
import { deleteKeyPrefixes, newKeyPrefix, redisUrl } from '../../support/redis.js';

/** The bound: how long after A pauses an agent B may still route to it or list it as live. */
const PAUSE_BOUND_MS = 100;

const namespaces: string[] = [];
const prefixes: string[] = [];
afterAll(async () => {
  await deleteNamespaceStreams(namespaces);
  await deleteKeyPrefixes(prefixes);
});

/**
 * Two instances in this process on one PostgreSQL and one NATS namespace, with Redis (bus over
 * pub/sub, L2) and without (bus over NATS): agent listings come from the cached rosters, and a
 * pause on the leader reaches the follower's cache over the bus.
 */
describe.skipIf(natsUrl === null || postgresUrl === null || redisUrl === null).each([
  { tiers: 'memory and Redis', redis: true },
  { tiers: 'memory, bus over NATS', redis: false },
])('agents through the cache on two instances ($tiers)', ({ redis }) => {
  let db: TestDatabase;
  let a: Harness;
  let b: Harness;

  beforeEach(async () => {
    db = await createTestDatabase();
    const namespace = newNamespace();
    namespaces.push(namespace);
    const env: Record<string, string> = { AGENTMESH_DATABASE_URL: db.url, AGENTMESH_NATS_URL: natsUrl!, AGENTMESH_NATS_NAMESPACE: namespace, AGENTMESH_HEARTBEAT_TIMEOUT_MS: '60000' };
    if (redis) {
      const prefix = newKeyPrefix();
      prefixes.push(prefix);
      Object.assign(env, { AGENTMESH_REDIS_URL: redisUrl!, AGENTMESH_REDIS_PREFIX: prefix });
    }
    a = await startHarness(env);
    b = await startHarness(env);
  });
  afterEach(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db.drop();
  });

  /**
   * Milliseconds from `since` (A answered the change) until B no longer holds the tenant's roster
   * of the capability in memory (the invalidation arrived; 0 when it came first), polled in this
   * process: a listing over HTTP would add its own round trip, which on a loaded machine can alone
   * exceed the bound. Then a listing on B must show the change (nothing stale refilled it).
   */
  const droppedOnB = (since: number) =>
    new Promise<number>((resolve) => {
      const roster = agentRosterCacheKey('default', 'route-me');
      const poll = () => {
        const elapsed = performance.now() - since;
        if (!b.running.cache.holds(roster) || elapsed > 1_000) resolve(elapsed);
        else setTimeout(poll, 1);
      };
      poll();
    });

  const listed = async (h: Harness) =>
    Object.fromEntries((expectStatus(await h.request('GET', '/v1/agents?capability=route-me'), 200).items as Array<{ id: string; status: string }>).map((x) => [x.id, x.status]));

  it(`B stops listing as live, and routing to, an agent within ${PAUSE_BOUND_MS} ms of A pausing it`, async () => {
    expect(a.running.mesh.role).toBe('leader');
    expect(b.running.mesh.role).toBe('follower');
    await registerAgent(a, 'pausable-1', ['route-me'], { maxConcurrentTasks: 50 });
    await registerAgent(a, 'steady-1', ['route-me'], { maxConcurrentTasks: 50 });
    // B has the roster cached: the second listing is a hit.
    expect(await listed(b)).toEqual({ 'pausable-1': 'available', 'steady-1': 'available' });
    const hitsBefore = b.running.cache.stats().hits.l1.agent;
    expect(await listed(b)).toEqual({ 'pausable-1': 'available', 'steady-1': 'available' });
    expect(b.running.cache.stats().hits.l1.agent).toBe(hitsBefore + 1);

    expect(b.running.cache.holds(agentRosterCacheKey('default', 'route-me'))).toBe(true);
    expectStatus(await a.request('POST', '/v1/agents/pausable-1/pause'), 200);
    const paused = performance.now();
    // Listing: B's cached roster was dropped by the invalidation A sent, and B lists the agent as paused.
    const listingMs = await droppedOnB(paused);
    expect((await listed(b))['pausable-1']).toBe('paused');
    // Routing: the leader decides, from its registry, changed before the pause was answered; tasks submitted on B go to the other agent.
    const submitted = performance.now();
    const routed = await Promise.all(Array.from({ length: 4 }, (_, n) => submitTask(b, { capability: 'route-me', input: { n }, routing: { strategy: 'round_robin' } })));
    const routingMs = performance.now() - submitted;
    for (const id of routed) expect((await waitForTaskStatus(b, id, 'assigned')).agentId).toBe('steady-1');
    process.stdout.write(`agent paused on A (${redis ? 'Redis bus' : 'NATS bus'}): B drops its cached roster ${listingMs.toFixed(1)} ms after A answered the pause, then lists the agent as paused; 4 tasks submitted on B right after (in ${routingMs.toFixed(1)} ms), none routed to it\n`);
    expect(listingMs).toBeLessThan(PAUSE_BOUND_MS);
    // The roster was loaded again after the pause, not answered stale.
    expect(b.running.cache.stats().misses.l1.agent).toBeGreaterThanOrEqual(2);
  });

  it('B lists a new agent, and one A terminated, at once from a roster it had cached', async () => {
    await registerAgent(a, 'first-1', ['route-me']);
    expect(await listed(b)).toEqual({ 'first-1': 'available' });
    expect(b.running.cache.holds(agentRosterCacheKey('default', 'route-me'))).toBe(true);
    await registerAgent(a, 'second-1', ['route-me']);
    const registered = performance.now();
    expect(await droppedOnB(registered)).toBeLessThan(PAUSE_BOUND_MS);
    expect(await listed(b)).toEqual({ 'first-1': 'available', 'second-1': 'available' });
    expect(b.running.cache.holds(agentRosterCacheKey('default', 'route-me'))).toBe(true);
    expectStatus(await a.request('DELETE', '/v1/agents/first-1'), 200);
    const terminated = performance.now();
    expect(await droppedOnB(terminated)).toBeLessThan(PAUSE_BOUND_MS);
    expect(await listed(b)).toEqual({ 'first-1': 'terminated', 'second-1': 'available' });
  });
});
