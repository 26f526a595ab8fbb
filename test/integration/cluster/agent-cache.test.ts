import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
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
   * Milliseconds from `since` (A answered the change) until a listing on B that shows `shows` was
   * sent, listing again at once until one does (for up to a second). Timed at the sending: the
   * listing's own round trip, which on a loaded machine can alone exceed the bound, is not the
   * propagation's.
   */
  const seenOnB = async (since: number, shows: (listing: Record<string, string>) => boolean) => {
    for (;;) {
      const sentAt = performance.now();
      if (shows(await listed(b))) return Math.max(0, sentAt - since);
      expect(performance.now() - since, 'B to show the change').toBeLessThan(1_000);
    }
  };

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

    expectStatus(await a.request('POST', '/v1/agents/pausable-1/pause'), 200);
    const paused = performance.now();
    // Listing: B's cached roster was dropped by the invalidation A sent.
    const listingMs = await seenOnB(paused, (listing) => listing['pausable-1'] === 'paused');
    // Routing: the leader decides, from its registry, changed before the pause was answered; tasks submitted on B go to the other agent.
    const submitted = performance.now();
    const routed = await Promise.all(Array.from({ length: 4 }, (_, n) => submitTask(b, { capability: 'route-me', input: { n }, routing: { strategy: 'round_robin' } })));
    const routingMs = performance.now() - submitted;
    for (const id of routed) expect((await waitForTaskStatus(b, id, 'assigned')).agentId).toBe('steady-1');
    process.stdout.write(`agent paused on A (${redis ? 'Redis bus' : 'NATS bus'}): B's first listing showing it paused was sent ${listingMs.toFixed(1)} ms after A answered the pause; 4 tasks submitted on B right after (in ${routingMs.toFixed(1)} ms), none routed to it\n`);
    expect(listingMs).toBeLessThan(PAUSE_BOUND_MS);
    // The roster was loaded again after the pause, not answered stale.
    expect(b.running.cache.stats().misses.l1.agent).toBeGreaterThanOrEqual(2);
  });

  it('B lists a new agent, and one A terminated, at once from a roster it had cached', async () => {
    await registerAgent(a, 'first-1', ['route-me']);
    expect(await listed(b)).toEqual({ 'first-1': 'available' });
    await registerAgent(a, 'second-1', ['route-me']);
    const registered = performance.now();
    expect(await seenOnB(registered, (listing) => listing['second-1'] === 'available')).toBeLessThan(PAUSE_BOUND_MS);
    expectStatus(await a.request('DELETE', '/v1/agents/first-1'), 200);
    const terminated = performance.now();
    expect(await seenOnB(terminated, (listing) => listing['first-1'] === 'terminated' && listing['second-1'] === 'available')).toBeLessThan(PAUSE_BOUND_MS);
  });
});
