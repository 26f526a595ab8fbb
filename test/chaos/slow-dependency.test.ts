import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/mesh-harness.js';
import { chaosBinaries } from './support/binaries.js';
import { ChaosCluster } from './support/chaos-cluster.js';
import { LatencyProxy } from './support/latency-proxy.js';
import { ResilienceSampler } from './support/resilience-sampler.js';
import { expectNoCrash, expectNothingLost, expectPromptRecovery } from './support/expectations.js';
import { runScenario } from './support/scenario.js';

const TASKS = 1000;
/** Beyond the Redis policy's time budget (1 s, forCache): every call times out, so its breaker must open. */
const REDIS_LATENCY_MS = 1_500;
/** Within the database's budget, but enough that calls pile up: its bulkhead must bound them. */
const POSTGRES_LATENCY_MS = 100;

/**
 * Slow dependencies under load, not dead ones: Redis slower than its budget trips its breaker,
 * a slow PostgreSQL fills its bulkhead (which bounds the calls in flight), and once both are fast
 * again every breaker closes by itself: no instance restarts, and every task ends once.
 */
describe.skipIf(chaosBinaries === undefined)('slow dependencies', () => {
  let cluster: ChaosCluster | undefined;
  const proxies: LatencyProxy[] = [];
  afterEach(async () => {
    await cluster?.close();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  it('trip the breaker, fill the bulkhead up to its bound, and recover without a restart', { timeout: 180_000 }, async () => {
    cluster = await ChaosCluster.start(chaosBinaries!, async (services) => {
      const [pg, redis] = await Promise.all([LatencyProxy.start(services.postgres.port), LatencyProxy.start(services.redis.port)]);
      proxies.push(pg, redis);
      return { AGENTMESH_DATABASE_URL: pg.url(services.postgres.url()), AGENTMESH_REDIS_URL: redis.url(services.redis.url) };
    });
    const [pgProxy, redisProxy] = proxies as [LatencyProxy, LatencyProxy];
    // Sampled from the slowdown on: what the policies did about it, and after it.
    let sampler: ResilienceSampler | undefined;
    let pids: number[] = [];
    const result = await runScenario(cluster, {
      name: 'slow-dependency',
      tasks: TASKS,
      perSecond: 100,
      killAt: 300,
      downMs: 8_000,
      victim: ({ a, b }) => ({
        kill: async () => {
          pids = [a.pid, b.pid];
          sampler = new ResilienceSampler(() => [a.url, b.url]);
          pgProxy.latencyMs = POSTGRES_LATENCY_MS;
          redisProxy.latencyMs = REDIS_LATENCY_MS;
        },
        restart: async () => {
          pgProxy.latencyMs = 0;
          redisProxy.latencyMs = 0;
        },
        note: () => `PostgreSQL +${POSTGRES_LATENCY_MS} ms, Redis +${REDIS_LATENCY_MS} ms each way`,
      }),
    });
    // Recovery by itself: every breaker on both (same) instances closes again.
    await eventually(
      async () => (await Promise.all(cluster!.instances.map((i) => ResilienceSampler.breakerStates(i.url)))).every((states) => Object.values(states).every((s) => s === 0)),
      20_000,
      'every circuit breaker to close again',
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await Promise.all(cluster!.instances.map((i) => ResilienceSampler.breakerStates(i.url))))}`);
    });
    // Assigned in the victim's callback, which TypeScript's flow analysis does not follow.
    const seen = sampler as ResilienceSampler | undefined;
    if (!seen) throw new Error('the slowdown never started');
    seen.stop();
    const policies = Object.fromEntries(seen.policies().map((p) => [p, seen.policy(p)]));
    console.log(`chaos slow-dependency: resilience seen on /metrics: ${JSON.stringify(policies)}`);

    expectNothingLost(cluster, result, TASKS);

    expectPromptRecovery(result);
    expectNoCrash(result);
    expect.soft(cluster.instances.map((i) => i.pid)).toEqual(pids);
    const redisPolicy = seen.policies().find((p) => /redis|cache/u.test(p));
    const dbPolicy = seen.policies().find((p) => /database/u.test(p));
    expect.soft(redisPolicy, `policies on /metrics: ${seen.policies().join(', ')}`).toBeDefined();
    expect.soft(dbPolicy, `policies on /metrics: ${seen.policies().join(', ')}`).toBeDefined();
    // Redis slower than its budget: its breaker opened (1) and, healed, closed again (0).
    expect.soft(seen.policy(redisPolicy ?? 'redis').states, 'Redis breaker states').toContain(1);
    expect.soft(seen.policy(redisPolicy ?? 'redis').states.at(-1), 'Redis breaker state at the end').toBe(0);
    // The database's bulkhead was reached (calls waited for a slot) and never exceeded.
    const db = seen.policy(dbPolicy ?? 'database');
    expect.soft(db.maxConcurrent, 'database bulkhead bound').toBeGreaterThan(0);
    expect.soft(db.maxActive, 'database calls in flight at most').toBeLessThanOrEqual(db.maxConcurrent);
    expect.soft(db.maxQueued, 'database calls that waited for a slot, at most').toBeGreaterThan(0);
  });
});
