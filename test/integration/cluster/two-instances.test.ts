import { afterAll, afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { Agent, AgentMeshClient } from '../../../src/sdk/index.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';
import { deleteNamespaceStreams, natsUrl, newNamespace } from '../../support/nats.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';
import { deleteKeyPrefixes, newKeyPrefix, redisUrl } from '../../support/redis.js';
import { Redis } from 'ioredis';
import pg from 'pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { startTracing } from '../../../src/infrastructure/observability/tracing.js';

const namespaces: string[] = [];

async function query(url: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Messages in a JetStream stream (0 when it does not exist). */
async function streamMessages(stream: string): Promise<number> {
  const nc = await connect({ servers: natsUrl! });
  try {
    const jsm = await jetstreamManager(nc);
    return await jsm.streams.info(stream).then((info) => info.state.messages, () => 0);
  } finally {
    await nc.close();
  }
}
afterAll(() => deleteNamespaceStreams(namespaces));

/** Two instances in this process on one PostgreSQL database and one NATS namespace: one mesh. */
describe.skipIf(natsUrl === null || postgresUrl === null)('two instances as one mesh', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const harnesses: Harness[] = [];
  const agents: Agent[] = [];

  beforeEach(async () => {
    db = await createTestDatabase();
    const namespace = newNamespace();
    namespaces.push(namespace);
    env = { AGENTMESH_DATABASE_URL: db.url, AGENTMESH_NATS_URL: natsUrl!, AGENTMESH_NATS_NAMESPACE: namespace, AGENTMESH_HEARTBEAT_TIMEOUT_MS: '3000' };
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await Promise.all(harnesses.splice(0).map((h) => h.stop()));
    await db.drop();
  });

  const start = async () => {
    const h = await startHarness(env);
    harnesses.push(h);
    return h;
  };
  const agentOn = (h: Harness, name: string, transport: 'stream' | 'poll') => {
    const agent = new Agent({ url: h.url, apiKey: h.adminKey, id: name, name, capabilities: ['echo'], transport, maxConcurrentTasks: 2, heartbeatIntervalMs: 300 }).handle(
      'echo',
      async (input: { n: number }) => ({ n: input.n, by: name }),
    );
    agents.push(agent);
    return agent.start();
  };

  it('elects one leader; tasks submitted on either instance reach agents on both, round robin across them', async () => {
    const a = await start();
    const b = await start();
    expect((await a.request('GET', '/health/ready')).body).toMatchObject({ status: 'ready', role: 'leader' });
    expect((await b.request('GET', '/health/ready')).body).toMatchObject({ status: 'ready', role: 'follower' });

    await agentOn(a, 'on-a', 'stream');
    await agentOn(b, 'on-b1', 'stream');
    await agentOn(b, 'on-b2', 'poll');
    // An agent registered through the follower is in the leader's registry at once.
    expect((await a.request('GET', '/v1/agents/on-b2')).status).toBe(200);

    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) => (n % 2 === 0 ? a : b).admin.run<{ n: number; by: string }>('echo', { n }, { routing: { strategy: 'round_robin' }, timeoutMs: 20_000 })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(60).fill('completed'));
    expect(results.map((r) => r.output!.n)).toEqual(Array.from({ length: 60 }, (_, n) => n));
    const by = new Map<string, number>();
    for (const r of results) by.set(r.output!.by, (by.get(r.output!.by) ?? 0) + 1);
    expect([...by.keys()].sort()).toEqual(['on-a', 'on-b1', 'on-b2']);
    // Round robin skips an agent whose slots are full: the poll agent, whose settlements take a round trip to the follower and its audit entry, gets less than a third.
    for (const count of by.values()) expect(count).toBeGreaterThanOrEqual(8);
  });

  it('answers the same problem on the follower as on the leader, and a key revoked on one instance is refused by the other at once', async () => {
    const a = await start();
    const b = await start();
    for (const h of [a, b]) {
      const id = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
      const missing = await h.request('POST', `/v1/tasks/${id}/complete`, { body: { agentId: 'agent-x', output: 1 } });
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ type: 'https://agentmesh.dev/problems/not_found', detail: `task '${id}' was not found` });
      const tooMany = await h.request('POST', '/v1/tasks', { body: { capability: 'c', input: {}, priority: 12 } });
      expect(tooMany.status).toBe(400);
      const badId = await h.request('POST', '/v1/agents', { body: { id: 'bad id!', name: 'x', capabilities: [{ name: 'c' }] } });
      expect(badId.status).toBe(400);
      expect(badId.body.detail).toMatch(/id/);
    }
    const created = await b.request('POST', '/v1/api-keys', { body: { name: 'temp', role: 'observer' } });
    const key = created.body.key as string;
    // Warm both instances' key caches.
    expect((await a.request('GET', '/v1/agents', { key })).status).toBe(200);
    expect((await b.request('GET', '/v1/agents', { key })).status).toBe(200);
    expect((await a.request('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(204);
    await eventually(async () => (await b.request('GET', '/v1/agents', { key })).status === 401, 1000, 'the follower to refuse the revoked key');
  });

  it('hands leadership to the follower when the leader stops; its agents and tasks carry on', async () => {
    const a = await start();
    const b = await start();
    await agentOn(b, 'survivor', 'stream');
    const client = new AgentMeshClient({ url: b.url, apiKey: b.adminKey });
    expect((await client.run('echo', { n: 1 }, { timeoutMs: 10_000 })).status).toBe('completed');

    // Submitted on the follower while the leader goes away: it waits for the new leader.
    await harnesses.splice(harnesses.indexOf(a), 1)[0]!.stop();
    const during = client.run<{ n: number }>('echo', { n: 2 }, { timeoutMs: 20_000 });
    await eventually(async () => (await b.request('GET', '/health/ready')).body.role === 'leader', 10_000, 'the follower to be elected');
    expect((await during).output).toMatchObject({ n: 2, by: 'survivor' });
    expect((await client.run('echo', { n: 3 }, { timeoutMs: 10_000 })).status).toBe('completed');
  });

  it("an instance on another NATS namespace than the leader's is not ready and refuses changes at once; it leads when the leader stops", async () => {
    const a = await start();
    const typo = newNamespace();
    namespaces.push(typo);
    env = { ...env, AGENTMESH_NATS_NAMESPACE: typo };
    const b = await start();
    const ready = await b.request('GET', '/health/ready', { key: null });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not_ready', role: 'follower', checks: { store: { status: 'up' }, broker: { status: 'up' }, leader: { status: 'down', error: expect.stringMatching(/AGENTMESH_NATS_NAMESPACE is not the mesh leader's/) } } });
    expect((await a.request('GET', '/health/ready', { key: null })).body).toMatchObject({ status: 'ready', role: 'leader', checks: { leader: { status: 'up' } } });

    const started = Date.now();
    const refused = await b.request('POST', '/v1/tasks', { body: { capability: 'echo', input: {} } });
    expect(refused.status).toBe(503);
    expect(refused.body.detail).toMatch(/cannot reach the leader/);
    // Not the 10 s a follower waits while a leader is being elected.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await a.request('GET', '/v1/tasks')).body.items).toEqual([]);
    // Every change is held there, not only those sent to the leader: a key made or revoked there would be announced where the mesh does not hear.
    expect((await b.request('POST', '/v1/api-keys', { body: { name: 'typo', role: 'observer' } })).status).toBe(503);
    expect((await a.request('GET', '/v1/api-keys')).body.items.map((k: { name: string }) => k.name)).not.toContain('typo');
    expect((await b.request('GET', '/v1/tasks')).status).toBe(200);
    // The mesh's events are published by the instances on its namespace only: none lands on the typo's stream.
    for (let n = 0; n < 10; n++) expect((await a.request('POST', '/v1/tasks', { body: { capability: 'echo', input: { n } } })).status).toBe(202);
    await eventually(async () => Number((await query(db.url, 'SELECT count(*) AS n FROM events WHERE published_at IS NULL'))[0]!.n) === 0, 5000, 'the events to be published');
    expect(await streamMessages(`AGENTMESH_EVENTS_${typo.toUpperCase()}`)).toBe(0);

    await harnesses.splice(harnesses.indexOf(a), 1)[0]!.stop();
    await eventually(async () => (await b.request('GET', '/health/ready', { key: null })).body.role === 'leader', 10_000, 'the other namespace to lead');
    expect((await b.request('GET', '/health/ready', { key: null })).body).toMatchObject({ status: 'ready', checks: { leader: { status: 'up' } } });
    expect(await query(db.url, 'SELECT nats_namespace FROM mesh_leader')).toEqual([{ nats_namespace: typo }]);
    expect((await b.request('POST', '/v1/tasks', { body: { capability: 'echo', input: {} } })).status).toBe(202);
  });

  it.skipIf(redisUrl === null)("an instance on another Redis prefix than the leader's is not ready and refuses changes at once", async () => {
    const prefixes = [newKeyPrefix(), newKeyPrefix()];
    onTestFinished(() => deleteKeyPrefixes(prefixes));
    env = { ...env, AGENTMESH_REDIS_URL: redisUrl!, AGENTMESH_REDIS_PREFIX: prefixes[0]! };
    const a = await start();
    env = { ...env, AGENTMESH_REDIS_PREFIX: prefixes[1]! };
    const b = await start();
    const ready = await b.request('GET', '/health/ready', { key: null });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ role: 'follower', checks: { leader: { status: 'down', error: expect.stringMatching(/^this instance's Redis \(AGENTMESH_REDIS_URL, AGENTMESH_REDIS_PREFIX\) is not the mesh leader's/) } } });
    expect((await b.request('POST', '/v1/api-keys', { body: { name: 'apart', role: 'observer' } })).status).toBe(503);
    expect((await a.request('GET', '/health/ready', { key: null })).status).toBe(200);
  });

  it.skipIf(redisUrl === null)("with Redis, the follower answers agent reads with the load the leader publishes there", async () => {
    const prefix = newKeyPrefix();
    env = { ...env, AGENTMESH_REDIS_URL: redisUrl!, AGENTMESH_REDIS_PREFIX: prefix, AGENTMESH_SWEEP_INTERVAL_MS: '50' };
    const a = await start();
    const b = await start();
    expect((await b.request('GET', '/health/ready')).body.checks.redis).toEqual({ status: 'up' });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const worker = new Agent({ url: b.url, apiKey: b.adminKey, id: 'holder', name: 'holder', capabilities: ['hold'], maxConcurrentTasks: 2, heartbeatIntervalMs: 300 }).handle('hold', () => held);
    agents.push(worker);
    await worker.start();
    const { id } = await b.admin.submit('hold', {});
    const redis = new Redis(redisUrl!);
    try {
      const published = await eventually(async () => {
        const raw = await redis.hget(`${prefix}:{default}:agents`, 'holder');
        return raw !== null && JSON.parse(raw).inFlight === 1 ? JSON.parse(raw) : undefined;
      }, 5000, 'the leader to publish the load');
      expect(published).toMatchObject({ status: 'available', inFlight: 1, assignedCount: 1 });
      const seen = await b.request('GET', '/v1/agents/holder');
      expect(seen.body).toMatchObject({ inFlight: 1, assignedCount: 1 });
      release();
      await b.admin.waitForResult(id, { timeoutMs: 5000 });
      await eventually(async () => (await b.request('GET', '/v1/agents?capability=hold')).body.items[0]?.completedCount === 1, 5000, 'the follower to see the completion');
    } finally {
      release();
      await redis.del(...(await redis.keys(`${prefix}:*`)));
      await redis.quit();
    }
  });

  it('keeps one trace per task across instances: the follower takes the request, the leader routes, the follower delivers', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing({ serviceName: 'agentmesh-test', version: 'test', exporter, processor: 'simple' });
    try {
      const a = await start();
      const b = await start();
      await agentOn(b, 'traced-on-b', 'stream');
      const traceId = '6bf92f3577b34da6a3ce929d0e0e4736';
      const { id } = await b.admin.submit('echo', { n: 1 }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
      expect((await b.admin.waitForResult(id, { timeoutMs: 10_000 })).status).toBe('completed');
      const names = await eventually(() => {
        const found = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId).map((s) => s.name);
        return found.includes('agentmesh.complete') ? found : undefined;
      }, 5000, 'the completion span');
      expect(names).toEqual(expect.arrayContaining(['POST /v1/tasks', 'agentmesh.submit', 'agentmesh.store.write', 'agentmesh.route', 'agentmesh.publish', 'agentmesh.deliver', 'agentmesh.agent.work', 'agentmesh.complete']));
      // The submit ran on the leader, from the follower's command: still the caller's trace.
      expect(a.running.mesh.role).toBe('leader');
      expect(b.running.mesh.role).toBe('follower');
    } finally {
      await Promise.all(agents.splice(0).map((agent) => agent.stop()));
      await tracing.shutdown();
    }
  });
});
