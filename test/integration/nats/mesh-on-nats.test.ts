import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentInboxSubject } from '../../../src/application/subjects.js';
import { Agent } from '../../../src/sdk/index.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';
import { deleteNamespaceStreams, natsUrl, newNamespace as newTestNamespace } from '../../support/nats.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';
import { serveUntilExit } from '../../support/serve-process.js';
import { TcpProxy } from '../../support/tcp-proxy.js';

const namespaces: string[] = [];
const newNamespace = () => {
  const ns = newTestNamespace();
  namespaces.push(ns);
  return ns;
};

/** Every event published so far in a namespace's event stream, for one task, in stream order. */
async function publishedEvents(namespace: string, taskId: string): Promise<Array<{ type: string; version: number; aggregateId: string }>> {
  const nc = await connect({ servers: natsUrl! });
  try {
    const js = jetstream(nc);
    // The namespace's own stream holds only this test's events; the task is picked out below.
    const consumer = await js.consumers.get(`AGENTMESH_EVENTS_${namespace.toUpperCase()}`);
    const out: Array<{ type: string; version: number; aggregateId: string }> = [];
    const info = await consumer.info(true);
    let left = info.num_pending;
    while (left > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(left, 500), expires: 2000 });
      for await (const m of batch) {
        left--;
        const e = m.json<{ type: string; version: number; aggregateId: string }>();
        if (e.aggregateId === taskId) out.push(e);
      }
    }
    return out;
  } finally {
    await nc.close();
  }
}

afterAll(() => deleteNamespaceStreams(namespaces));

/** One instance on the production backends: PostgreSQL for the store, NATS JetStream for delivery. */
describe.skipIf(natsUrl === null || postgresUrl === null)('mesh on PostgreSQL and NATS JetStream', () => {
  let db: TestDatabase;
  let h: Harness | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = { AGENTMESH_DATABASE_URL: db.url, AGENTMESH_NATS_URL: natsUrl!, AGENTMESH_NATS_NAMESPACE: newNamespace() };
  });
  afterAll(async () => {
    await h?.stop();
    await db?.drop();
  });

  it('delivers over NATS to SDK agents on both transports, and readiness checks NATS', async () => {
    h = await startHarness(env);
    expect((await h.request('GET', '/health/ready')).body).toMatchObject({ status: 'ready', checks: { store: { status: 'up' }, broker: { status: 'up' } } });
    const workers = await Promise.all(
      (['stream', 'poll'] as const).map((transport, i) =>
        new Agent({ url: h!.url, apiKey: h!.adminKey, name: `nats-${transport}`, capabilities: ['nats-work'], transport, maxConcurrentTasks: 4, heartbeatIntervalMs: 200 })
          .handle('nats-work', async (input: { n: number }) => ({ n: input.n, by: i }))
          .start(),
      ),
    );
    try {
      const results = await Promise.all(Array.from({ length: 30 }, (_, n) => h!.admin.run<{ n: number; by: number }>('nats-work', { n }, { timeoutMs: 20_000 })));
      expect(results.map((r) => r.status)).toEqual(Array(30).fill('completed'));
      expect(results.map((r) => r.output?.n)).toEqual(Array.from({ length: 30 }, (_, n) => n));
      expect(new Set(results.map((r) => r.output?.by))).toEqual(new Set([0, 1]));
      // The outbox relay publishes each task's events to the tenant's event subjects, in order.
      const events = await eventually(async () => {
        const got = await publishedEvents(env.AGENTMESH_NATS_NAMESPACE!, results[0]!.id);
        return got.length >= 4 ? got : undefined;
      }, 10_000, 'the events of a task on NATS');
      expect(events.map((e) => [e.type, e.version])).toEqual([
        ['TaskSubmitted', 1],
        ['TaskAssigned', 2],
        ['TaskStarted', 3],
        ['TaskCompleted', 4],
      ]);
    } finally {
      await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
    }
  }, 60_000);

  it('delivers a task handed back, and a requeued dead letter, to the next agent at once: the same attempt assigned again is not a repeat to the stream', async () => {
    const first = await h!.admin.registerAgent({ id: 'nats-again-a', name: 'a', capabilities: [{ name: 'nats-again' }] });
    const { id } = await h!.admin.submit('nats-again', {}, { maxAttempts: 1, leaseMs: 60_000 });
    expect(await h!.admin.nextTask(first.id, 5000)).toMatchObject({ id, attempt: 1 });
    // Leaving hands the task back: the attempt is given back, and the next assignment is attempt 1 again.
    await h!.admin.terminateAgent(first.id);
    const second = await h!.admin.registerAgent({ id: 'nats-again-b', name: 'b', capabilities: [{ name: 'nats-again' }] });
    const handedBack = await h!.admin.nextTask(second.id, 5000);
    expect(handedBack).toMatchObject({ id, attempt: 1 });
    await h!.admin.fail(id, second.id, { message: 'down' });
    expect((await h!.admin.get(id)).status).toBe('dead_lettered');
    await h!.admin.requeue(id);
    const requeued = await h!.admin.nextTask(second.id, 5000);
    expect(requeued).toMatchObject({ id, attempt: 1 });
    expect(requeued!.assignedAt).not.toBe(handedBack!.assignedAt);
    await h!.admin.complete(id, second.id, 'done');
    expect((await h!.admin.get(id)).status).toBe('completed');
  }, 30_000);

  it('delivers an assignment made before a restart to the agent that polls after it', async () => {
    const agent = await h!.admin.registerAgent({ id: 'nats-late', name: 'late', capabilities: [{ name: 'nats-restart' }] });
    const { id } = await h!.admin.submit('nats-restart', { keep: true }, { leaseMs: 60_000 });
    await eventually(async () => (await h!.admin.get(id)).status === 'assigned', 5000, 'assignment');
    await h!.stop();
    h = await startHarness(env);
    const delivered = await h.admin.nextTask(agent.id, 5000);
    expect(delivered).toMatchObject({ id, attempt: 1, input: { keep: true } });
    await h.admin.complete(id, agent.id, 'ok');
    expect((await h.admin.get(id)).status).toBe('completed');
  }, 60_000);

  it('carries the task id and the W3C trace context in the JetStream message headers', async () => {
    const agent = await h!.admin.registerAgent({ id: 'nats-traced', name: 'traced', capabilities: [{ name: 'nats-trace' }] });
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const { id } = await h!.admin.submit('nats-trace', {}, { traceparent, tracestate: 'v=1' });
    const message = await h!.running.broker.pull(agentInboxSubject('default', agent.id), { ackWaitMs: 5000, waitMs: 5000 });
    expect(message!.headers).toMatchObject({ 'task-id': id, attempt: '1', 'assigned-at': String((await h!.admin.get(id)).assignedAt), traceparent, tracestate: 'v=1' });
    message!.nak(0);
  }, 30_000);
});

/** NATS lost after start, through a proxy the test cuts: readiness says so, and work still gets done after it returns. */
describe.skipIf(natsUrl === null)('mesh on NATS: the broker goes away and comes back', () => {
  let proxy: TcpProxy;
  let h: Harness;
  const namespace = newNamespace();

  beforeAll(async () => {
    const fronted = await TcpProxy.inFrontOf(natsUrl!.split(',')[0]!, 4222);
    proxy = fronted.proxy;
    h = await startHarness({ AGENTMESH_NATS_URL: fronted.url, AGENTMESH_NATS_NAMESPACE: namespace, AGENTMESH_DATA_DIR: ':memory:' });
  });
  afterAll(async () => {
    await proxy?.restore();
    await h?.stop();
    await proxy?.close();
  });

  it('flips readiness to 503 while NATS is away; a task submitted meanwhile is routed again after its lease and completes', async () => {
    const agent = await h.admin.registerAgent({ id: 'nats-outage', name: 'outage', capabilities: [{ name: 'nats-outage' }] });
    await proxy.cut();
    const down = await eventually(async () => {
      const res = await h.request('GET', '/health/ready');
      return res.status === 503 ? res : undefined;
    }, 10_000, 'readiness to say 503');
    expect(down.body.checks).toMatchObject({ store: { status: 'up' }, broker: { status: 'down' } });
    // The store still takes it; its assignment cannot be published now.
    const { id } = await h.admin.submit('nats-outage', { during: 'outage' }, { leaseMs: 1000 });
    // Its events wait in the outbox meanwhile.
    await eventually(async () => (await h.running.store.outbox.pendingCount()) >= 2, 5000, 'events waiting in the outbox');

    await proxy.restore();
    await eventually(async () => (await h.request('GET', '/health/ready')).status === 200, 15_000, 'readiness to come back');
    const delivered = await eventually(() => h.admin.nextTask(agent.id, 1000), 20_000, 'the task to reach the agent');
    expect(delivered.id).toBe(id);
    await h.admin.complete(id, agent.id, 'done');
    expect((await h.admin.get(id)).status).toBe('completed');
    // Once NATS is back, everything that waited flows, each event once and in order.
    await eventually(async () => (await h.running.store.outbox.pendingCount()) === 0, 10_000, 'the outbox to drain');
    const events = await publishedEvents(namespace, id);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]!.type).toBe('TaskSubmitted');
    expect(events.at(-1)!.type).toBe('TaskCompleted');
  }, 60_000);
});

describe('AGENTMESH_NATS_URL errors at start', () => {
  it('names the variable in one line: unreachable exits 1 (password hidden), malformed exits 2', async () => {
    // Three processes that share nothing: at once.
    const [unreachable, malformed, badNamespace] = await Promise.all([
      serveUntilExit({ AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_NATS_URL: 'nats://mesh:hunter2@127.0.0.1:1' }),
      serveUntilExit({ AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_NATS_URL: 'http://127.0.0.1:4222' }),
      serveUntilExit({ AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_NATS_URL: 'nats://127.0.0.1:4222', AGENTMESH_NATS_NAMESPACE: 'a.b' }),
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.stderr).toMatch(/^agentmesh: AGENTMESH_NATS_URL: cannot connect to NATS at nats:\/\/\*\*\*@127\.0\.0\.1:1/);
    expect(unreachable.stderr).not.toContain('hunter2');

    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^agentmesh: AGENTMESH_NATS_URL must be a nats:\/\/ or tls:\/\/ URL/);

    expect(badNamespace.code).toBe(2);
    expect(badNamespace.stderr).toMatch(/^agentmesh: AGENTMESH_NATS_NAMESPACE must be/);
  }, 60_000);
});
