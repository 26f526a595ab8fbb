import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../src/domain/index.js';
import type { Agent } from '../../../src/domain/index.js';
import { RedisAgentView } from '../../../src/infrastructure/caching/redis-agent-view.js';
import { RedisConnection } from '../../../src/infrastructure/caching/redis-client.js';
import { RedisCounters } from '../../../src/infrastructure/caching/redis-counters.js';
import { sharedCountersContract } from '../../contracts/shared-counters.contract.js';
import { newKeyPrefix, redisUrl } from '../../support/redis.js';
import { eventually, startHarness } from '../../support/mesh-harness.js';
import { serveUntilExit } from '../../support/serve-process.js';
import { TcpProxy } from '../../support/tcp-proxy.js';

const connections: RedisConnection[] = [];
const prefixes: string[] = [];
const connect = async (url = redisUrl!) => {
  const prefix = newKeyPrefix();
  prefixes.push(prefix);
  const connection = await RedisConnection.connect(url, { keyPrefix: prefix, connectTimeoutMs: 2000 });
  connections.push(connection);
  return connection;
};

afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
  if (redisUrl === null) return;
  const redis = new Redis(redisUrl);
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
});

const agent = (tenantId: string, id: string, inFlight: number): Agent => ({
  id,
  tenantId,
  name: id,
  description: '',
  capabilities: [{ name: 'work', proficiency: 3 }],
  tags: [],
  metadata: {},
  maxConcurrentTasks: 4,
  status: 'available',
  inFlight,
  assignedCount: 10,
  completedCount: 9 - inFlight,
  failedCount: 1,
  avgLatencyMs: 12.5,
  lastHeartbeatAt: 1_700_000_000_000,
  registeredAt: 1_699_000_000_000,
  updatedAt: 1_700_000_000_001,
  version: 3,
});

describe.skipIf(redisUrl === null)('Redis', () => {
  sharedCountersContract('Redis', async () => new RedisCounters(await connect()));

  describe('agent live view', () => {
    let connection: RedisConnection;
    let view: RedisAgentView;
    beforeEach(async () => {
      connection = await connect();
      view = new RedisAgentView(connection);
    });

    it("publishes agents' load per tenant, reads it back, forgets a terminated one", async () => {
      await view.publish([agent('acme', 'a1', 2), agent('acme', 'a2', 0), agent('globex', 'a1', 4)]);
      const acme = await view.read('acme', ['a1', 'a2', 'missing']);
      expect([...acme.keys()]).toEqual(['a1', 'a2']);
      expect(acme.get('a1')).toEqual({ status: 'available', inFlight: 2, assignedCount: 10, completedCount: 7, failedCount: 1, avgLatencyMs: 12.5, lastHeartbeatAt: 1_700_000_000_000, updatedAt: 1_700_000_000_001 });
      expect((await view.read('globex', ['a1'])).get('a1')!.inFlight).toBe(4);
      await view.forget('acme', 'a1');
      expect([...(await view.read('acme', ['a1', 'a2'])).keys()]).toEqual(['a2']);
    });

    it('keeps every key under the prefix and the tenant, so tenants never share one', async () => {
      await view.publish([agent('acme', 'a1', 1)]);
      await new RedisCounters(connection).add('acme', 'requests', 60_000, 1, Date.now());
      const keys = await connection.redis.keys(`${connection.keyPrefix}:*`);
      expect(keys.length).toBeGreaterThanOrEqual(2);
      for (const key of keys) expect(key.startsWith(`${connection.keyPrefix}:{acme}:`)).toBe(true);
    });
  });

  describe('outage', () => {
    let proxy: TcpProxy;
    let viaProxy: string;
    beforeEach(async () => {
      ({ proxy, url: viaProxy } = await TcpProxy.inFrontOf(redisUrl!, 6379));
    });
    afterEach(async () => proxy.close());

    it('fails fast with 503 while Redis is away, and works again once it is back', async () => {
      const connection = await connect(viaProxy);
      const counters = new RedisCounters(connection);
      expect(await counters.add('acme', 'requests', 60_000, 1, Date.now())).toBe(1);
      await proxy.cut();
      const started = Date.now();
      await expect(counters.add('acme', 'requests', 60_000, 1, Date.now())).rejects.toBeInstanceOf(UnavailableError);
      await expect(connection.ping()).rejects.toBeInstanceOf(UnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);
      await proxy.restore();
      await expect.poll(() => connection.ping().then(() => true, () => false), { timeout: 5000 }).toBe(true);
      expect(await counters.total('acme', 'requests', 60_000, Date.now())).toBe(1);
    });

    it('degrades while Redis is away (ready, rate limits counted on the instance, breaker open), and recovers when it returns', { timeout: 45_000 }, async () => {
      const prefix = newKeyPrefix();
      prefixes.push(prefix);
      const h = await startHarness({ AGENTMESH_REDIS_URL: viaProxy, AGENTMESH_REDIS_PREFIX: prefix, AGENTMESH_RATE_LIMIT_PER_KEY: '20' });
      try {
        expect((await h.request('GET', '/health/ready', { key: null })).body).toMatchObject({ status: 'ready', checks: { redis: { status: 'up' } }, degraded: [] });
        await proxy.cut();
        const down = await h.request('GET', '/health/ready', { key: null });
        expect(down.status).toBe(200);
        expect(down.body).toMatchObject({ status: 'ready', checks: { redis: { status: 'down', error: expect.stringMatching(/Redis/) } }, degraded: ['redis'] });
        // The limit still holds, counted by this instance alone: of 30 requests, 20 pass.
        const statuses: number[] = [];
        for (let i = 0; i < 30; i++) statuses.push((await h.request('GET', '/v1/agents')).status);
        expect(statuses.filter((s) => s === 200)).toHaveLength(20);
        expect(statuses.filter((s) => s === 429)).toHaveLength(10);
        const detail = await h.request('GET', '/health');
        expect(detail.status).toBe(200);
        expect(detail.body).toMatchObject({ status: 'degraded', degraded: ['redis'], breakers: { redis: 'open' } });
        expect(Object.keys(detail.body.breakers)).toEqual(['redis']);
        const metrics = (await h.request('GET', '/metrics')).body as string;
        expect(metrics).toContain('agentmesh_counters_degraded 1');
        expect(metrics).toContain('agentmesh_circuit_breaker_state{policy="redis"} 1');
        await proxy.restore();
        // The breaker lets a command through after its 2 s cool-down; the counters are shared again.
        await eventually(
          async () => {
            await h.request('GET', '/v1/agents');
            return ((await h.request('GET', '/metrics')).body as string).includes('agentmesh_counters_degraded 0');
          },
          15_000,
          'the shared counters to return',
        );
        expect((await h.request('GET', '/health')).body).toMatchObject({ status: 'healthy', degraded: [], breakers: { redis: 'closed' } });
      } finally {
        await h.close();
      }
    });

    it('says why it cannot connect at start', async () => {
      await proxy.cut();
      await expect(RedisConnection.connect(viaProxy, { connectTimeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED|connect/i);
    });
  });

  it('names the variable in one line: unreachable exits 1 (password hidden), malformed exits 2', async () => {
    const unreachable = await serveUntilExit({ AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_REDIS_URL: 'redis://:hunter2@127.0.0.1:1' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.stderr).toMatch(/^agentmesh: cannot use Redis at AGENTMESH_REDIS_URL \(redis:\/\/:\*\*\*@127\.0\.0\.1:1\)/);
    expect(unreachable.stderr).not.toContain('hunter2');
    const malformed = await serveUntilExit({ AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_REDIS_URL: 'http://127.0.0.1:6379' });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^agentmesh: AGENTMESH_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  });
});
