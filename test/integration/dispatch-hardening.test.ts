import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentMeshError } from '../../src/sdk/index.js';
import { registerAgentUseCase } from '../../src/application/use-cases/register-agent.js';
import { eventually, startHarness, type Harness } from '../support/mesh-harness.js';

/** Regressions found in review: blocked work must never stall the mesh, and counters must stay true. */
describe('dispatch hardening', () => {
  let h: Harness;
  let n = 0;
  const cap = () => `hard-${++n}`;
  const beat = (ids: string[]) => {
    const timer = setInterval(() => ids.forEach((id) => void h.admin.heartbeat(id).catch(() => undefined)), 50);
    return () => clearInterval(timer);
  };

  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_HEARTBEAT_TIMEOUT_MS: '400', AGENTMESH_SWEEP_INTERVAL_MS: '20', AGENTMESH_RETRY_BASE_MS: '10' });
  });
  afterAll(async () => h.close());

  it('fails a broadcast copy whose agent left, so the broadcast completes', async () => {
    const c = cap();
    const [a, b] = await Promise.all([1, 2].map((i) => h.admin.registerAgent({ id: `${c}-b${i}`, name: 'b', capabilities: [{ name: c }] })));
    // Both beat from the start: on a busy machine the steps before the copy is taken can outlast the 400 ms heartbeat timeout.
    const stop = beat([a!.id, b!.id]);
    try {
      // b is busy with another task, so its copy waits for it.
      const busy = await h.admin.submit(c, null, { routing: { strategy: 'affinity', affinityKey: 'x' } });
      await eventually(async () => (await h.admin.get(busy.id)).agentId, 3000, 'busy assigned');
      const parent = await h.admin.submit(c, null, { routing: { strategy: 'broadcast' } });
      const holder = (await h.admin.get(busy.id)).agentId!;
      const leaver = holder === a!.id ? a! : b!;
      const stayer = holder === a!.id ? b! : a!;
      const copy = await eventually(() => h.admin.nextTask(stayer.id, 200), 3000, 'stayer copy');
      await h.admin.complete(copy.id, stayer.id, 'ok');
      await h.admin.terminateAgent(leaver.id);
      const done = await h.admin.get<{ results: Array<{ agentId: string; status: string; error?: { code: string } }> }>(parent.id, { waitMs: 5000 });
      expect(done.status).toBe('completed');
      const byAgent = Object.fromEntries(done.output!.results.map((r) => [r.agentId, r]));
      expect(byAgent[stayer.id]!.status).toBe('completed');
      expect(byAgent[leaver.id]).toMatchObject({ status: 'failed', error: { code: 'agent_unavailable' } });
    } finally {
      stop();
    }
  });

  it('does not count a cancel as the agent’s failure', async () => {
    const c = cap();
    const a = await h.admin.registerAgent({ name: 'c', capabilities: [{ name: c }] });
    const { id } = await h.admin.submit(c, null);
    await h.admin.nextTask(a.id, 2000);
    await h.admin.cancel(id);
    const after = await h.admin.getAgent(a.id);
    expect(after).toMatchObject({ inFlight: 0, failedCount: 0, completedCount: 0 });
  });

  it('hands back the tasks of a silent paused agent when its id registers again', async () => {
    const c = cap();
    const a = await h.admin.registerAgent({ id: `${c}-p`, name: 'p', capabilities: [{ name: c }] });
    const { id } = await h.admin.submit(c, null, { leaseMs: 60_000 });
    await h.admin.nextTask(a.id, 2000);
    await h.admin.pauseAgent(a.id);
    await new Promise((r) => setTimeout(r, 500));
    const again = await h.admin.registerAgent({ id: a.id, name: 'p', capabilities: [{ name: c }] });
    expect(again.inFlight).toBe(0);
    const redelivered = await h.admin.nextTask(a.id, 2000);
    expect(redelivered).toMatchObject({ id });
    expect((await h.admin.getAgent(a.id)).inFlight).toBe(1);
  });

  it('keeps the agent quota exact under concurrent registrations', async () => {
    const created = await h.admin.http.json<{ apiKey: { key: string } }>('POST', '/v1/tenants', { body: { id: 'one-agent', quotas: { maxAgents: 1 } } });
    const caller = await h.running.mesh.auth.authenticate(created.apiKey.key);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => registerAgentUseCase(h.running.mesh.ctx, caller, { id: `racer-${i}`, name: 'r', capabilities: [{ name: 'x' }] })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('answers 400, not 500, for a NUL character in agent metadata', async () => {
    const res = await h.request('POST', '/v1/agents', { body: { name: 'nul', capabilities: [{ name: 'x' }], metadata: { note: 'a\u0000b' } } });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('body.metadata');
  });

  it('answers 400 naming the field for a NUL character anywhere a client writes text, and keeps the six characters \\u0000 as they are', async () => {
    const c = cap();
    const nul = 'a\u0000b';
    const refused = async (method: string, path: string, body: unknown, field: string) => {
      const res = await h.request(method, path, { body });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body).toMatchObject({ field, detail: expect.stringContaining('NUL') });
    };
    await refused('POST', '/v1/tasks', { capability: c, input: { text: nul } }, 'body.input');
    const lone = await h.request('POST', '/v1/tasks', { body: { capability: c, input: { text: 'a\ud800b' } } });
    expect(lone.status).toBe(400);
    expect(lone.body).toMatchObject({ field: 'body.input', detail: expect.stringContaining('lone surrogate') });
    await refused('POST', '/v1/tasks', { capability: c, routing: { strategy: 'affinity', affinityKey: nul } }, 'body.routing.affinityKey');
    await refused('PUT', '/v1/secrets/nul-described', { value: 'v', description: nul, policy: { capabilities: ['*'] } }, 'body.description');
    await refused('POST', '/v1/api-keys', { name: nul, role: 'observer' }, 'body.name');
    await refused('POST', '/v1/tenants', { id: `${c}-tenant`, name: nul }, 'body.name');
    const agent = await h.admin.registerAgent({ id: `${c}-agent`, name: 'n', capabilities: [{ name: c }], maxConcurrentTasks: 2 });
    const stop = beat([agent.id]);
    try {
      const literal = { text: '\\u0000 written out' };
      const [first, second] = [await h.admin.submit(c, literal), await h.admin.submit(c, null)];
      for (let i = 0; i < 2; i++) await eventually(() => h.admin.nextTask(agent.id, 200), 3000, 'delivery');
      await refused('POST', `/v1/tasks/${first.id}/complete`, { agentId: agent.id, output: nul }, 'body.output');
      await refused('POST', `/v1/tasks/${second.id}/fail`, { agentId: agent.id, error: { message: 'x', code: nul } }, 'body.error');
      // Nothing lost: the agent still holds both, and settles them.
      await h.admin.complete(first.id, agent.id, literal);
      expect((await h.admin.get(first.id)).input).toEqual(literal);
      expect((await h.admin.get(first.id)).output).toEqual(literal);
      await h.admin.fail(second.id, agent.id, { message: 'fine' }, false);
    } finally {
      stop();
    }
    // The A2A endpoint answers invalid params, not an internal error.
    const a2a = await h.request('POST', '/v1/a2a', { body: { jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: `${c}-m`, role: 'ROLE_USER', parts: [{ text: nul }], metadata: { skill: c } } } } });
    expect(a2a.status).toBe(200);
    expect(a2a.body.error).toMatchObject({ code: -32602, message: expect.stringContaining('NUL') });
    // Its messageId becomes the task's idempotency key: refused by its own name.
    const lonelyId = await h.request('POST', '/v1/a2a', { body: { jsonrpc: '2.0', id: 2, method: 'SendMessage', params: { message: { messageId: `${c}-m\ud800`, role: 'ROLE_USER', parts: [{ text: 'x' }], metadata: { skill: c } } } } });
    expect(lonelyId.body.error).toMatchObject({ code: -32602, message: expect.stringContaining('message.messageId') });
  });

  it('drops empty queue states: capability names cannot grow memory', async () => {
    const before = h.running.mesh.ctx.dispatcher.queueCount;
    for (let i = 0; i < 30; i++) {
      const { id } = await h.admin.submit(`one-off-${i}`, null);
      await h.admin.cancel(id);
    }
    // Other tests' queues may come and go meanwhile; 30 leaked states could not hide in that slack.
    expect(h.running.mesh.ctx.dispatcher.queueCount).toBeLessThan(before + 5);
  });

  it('refuses to revoke the platform admin key through the API', async () => {
    const keys = await h.admin.http.json<{ items: Array<{ id: string; name: string }> }>('GET', '/v1/api-keys');
    const platform = keys.items.find((k) => k.name.startsWith('bootstrap'))!;
    const res = await h.request('DELETE', `/v1/api-keys/${platform.id}`);
    expect(res.status).toBe(403);
    expect((await h.request('GET', '/v1/agents')).status).toBe(200);
    void AgentMeshError;
  });
});

/** With the default heartbeat timeout, so that load cannot make agents look silent. */
describe('dispatch under a pile of blocked work', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());
  const c = 'pile';

  it('stays responsive with thousands of tasks waiting for one busy affinity owner, and routes others meanwhile', async () => {
    const agents = await Promise.all([1, 2].map((i) => h.admin.registerAgent({ id: `${c}-a${i}`, name: 'a', capabilities: [{ name: c }] })));
    const stop = () => undefined;
    try {
      // Find the owner of key 'k' by its first task, keep it busy, then pile up tasks behind it.
      const first = await h.admin.submit(c, null, { routing: { strategy: 'affinity', affinityKey: 'k' }, leaseMs: 60_000 });
      const owner = (await eventually(async () => (await h.admin.get(first.id)).agentId, 3000, 'owner'))!;
      const other = agents.find((a) => a.id !== owner)!;
      // 50 clients at a time: the pile is the point, not a connection storm on a slow machine.
      let next = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < 2500) await h.admin.submit(c, next++, { routing: { strategy: 'affinity', affinityKey: 'k' } });
        }),
      );
      const askedAt = Date.now();
      expect((await h.request('GET', '/health/live')).status).toBe(200);
      expect(Date.now() - askedAt).toBeLessThan(1000);
      const free = await h.admin.submit(c, 'any', { routing: { strategy: 'round_robin' } });
      const routed = await eventually(async () => (await h.admin.get(free.id)).agentId, 3000, 'the round-robin task to be routed');
      expect(agents.map((a) => a.id)).toContain(routed);
      expect(h.running.mesh.ctx.dispatcher.queuedCount('default')).toBeGreaterThanOrEqual(2400);
      void other;
    } finally {
      stop();
    }
  }, 60_000);

});

describe('broadcasts and the bound on queued tasks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_MAX_QUEUED_PER_TENANT: '4' });
  });
  afterAll(async () => h?.close());

  it("fans broadcasts that waited for agents out no further than the bound allows (one broadcast's copies past it at most), and every one still completes", async () => {
    const c = 'bounded-broadcast';
    // Two agents, paused: no candidate, so broadcasts wait as parents.
    const agents = await Promise.all([1, 2].map((i) => h.admin.registerAgent({ id: `${c}-${i}`, name: 'b', capabilities: [{ name: c }] })));
    for (const agent of agents) await h.admin.pauseAgent(agent.id);
    const parents: string[] = [];
    for (let i = 0; i < 4; i++) parents.push((await h.admin.submit(c, { i }, { routing: { strategy: 'broadcast' } })).id);
    expect((await h.request('POST', '/v1/tasks', { body: { capability: c } })).status).toBe(429);
    const queued = () => h.running.mesh.ctx.dispatcher.queuedCount('default');
    expect(queued()).toBe(4);

    // Both come back before the dispatcher looks (its pass for each resume held back, then run once):
    // every parent could fan out to both, 8 copies for 2 free slots.
    const dispatcher = h.running.mesh.ctx.dispatcher;
    const membershipChanged = dispatcher.membershipChanged.bind(dispatcher);
    dispatcher.membershipChanged = () => {};
    try {
      for (const agent of agents) await h.admin.resumeAgent(agent.id);
    } finally {
      dispatcher.membershipChanged = membershipChanged;
    }
    dispatcher.membershipChanged('default', [c]);
    await eventually(async () => (await h.admin.get(parents[0]!)).status !== 'queued', 3000, 'the first broadcast to fan out');
    await new Promise((r) => setTimeout(r, 300));
    const copies = (await h.admin.list({ capability: c, limit: 100 })).items.filter((t) => t.parentId !== undefined);
    // The bound (4) plus one broadcast's copies less its parent (2 - 1), never the 6 left queued by fanning every parent out.
    expect(queued()).toBeLessThanOrEqual(5);
    expect(copies.length).toBeLessThan(8);

    // The agents work their copies off; the held broadcasts fan out as the queue drains.
    const work = agents.map(async (agent) => {
      for (;;) {
        const task = await h.admin.nextTask(agent.id, 200);
        if (task) await h.admin.complete(task.id, agent.id, 'ok');
        else if ((await Promise.all(parents.map((id) => h.admin.get(id)))).every((t) => t.status === 'completed')) return;
      }
    });
    await Promise.race([Promise.all(work), new Promise((_, reject) => setTimeout(() => reject(new Error('broadcasts did not complete')), 15_000))]);
    expect(queued()).toBe(0);
  });
});
