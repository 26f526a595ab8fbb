import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, AgentMeshError, TaskWithdrawnError, type AgentErrorContext } from '../../src/sdk/index.js';
import { agentInboxSubject } from '../../src/application/subjects.js';
import { eventually, startHarness, type Harness } from '../support/mesh-harness.js';

/** Delivery semantics: leases, heartbeats, retries, dead letters, idempotency, SSE and long poll. */
describe('delivery', () => {
  let h: Harness;
  let n = 0;
  /** A fresh capability per test keeps tests independent on one mesh. */
  const cap = () => `cap-${++n}`;
  const agentIn = async (capability: string, extra: Partial<{ id: string; maxConcurrentTasks: number }> = {}) =>
    h.admin.registerAgent({ name: 'test agent', capabilities: [{ name: capability }], ...extra });
  const heartbeatWhile = (ids: string[]) => {
    const timer = setInterval(() => ids.forEach((id) => void h.admin.heartbeat(id).catch(() => undefined)), 50);
    return () => clearInterval(timer);
  };

  beforeAll(async () => {
    h = await startHarness({
      AGENTMESH_HEARTBEAT_TIMEOUT_MS: '400',
      AGENTMESH_SWEEP_INTERVAL_MS: '20',
      AGENTMESH_RETRY_BASE_MS: '10',
      AGENTMESH_RETRY_CAP_MS: '50',
    });
  });
  afterAll(async () => h.close());

  it('re-routes a task whose lease lapsed, and rejects the late completion with 409', async () => {
    const c = cap();
    const a = await agentIn(c);
    const stop = heartbeatWhile([a.id]);
    try {
      const { id } = await h.admin.submit(c, { x: 1 }, { leaseMs: 200 });
      const first = await h.admin.nextTask(a.id, 2000);
      // Usually attempt 1; on a loaded machine the 200 ms lease may lapse once before a's poll arrives.
      expect(first?.id).toBe(id);
      const b = await agentIn(c);
      stop();
      const stopB = heartbeatWhile([b.id]);
      const second = await eventually(() => h.admin.nextTask(b.id, 300), 5000, 'redelivery to b').finally(stopB);
      // Usually attempt 2; on a loaded machine a's second attempt may lapse too before a is marked lost.
      expect(second?.id).toBe(id);
      expect(second!.attempt).toBeGreaterThan(first!.attempt);
      const late = await h.admin.complete(id, a.id, { late: true }).catch((e: unknown) => e);
      expect(late).toBeInstanceOf(AgentMeshError);
      expect((late as AgentMeshError).status).toBe(409);
      await h.admin.complete(id, b.id, { ok: true });
      expect((await h.admin.get(id)).status).toBe('completed');
    } finally {
      stop();
    }
  });

  it('marks a silent agent unhealthy and re-routes its tasks; a heartbeat brings it back', async () => {
    const c = cap();
    const a = await agentIn(c);
    const { id } = await h.admin.submit(c, null, { leaseMs: 60_000 });
    expect(await h.admin.nextTask(a.id, 2000)).toMatchObject({ id });
    const b = await agentIn(c);
    const stop = heartbeatWhile([b.id]);
    try {
      const redelivered = await eventually(() => h.admin.nextTask(b.id, 200), 5000, 'redelivery after heartbeat loss');
      expect(redelivered.id).toBe(id);
      expect((await h.admin.getAgent(a.id)).status).toBe('unhealthy');
      const events = await h.running.store.events.readStream('default', 'agent', a.id);
      expect(events.map((e) => e.type)).toContain('AgentHeartbeatMissed');
      const back = await h.admin.heartbeat(a.id);
      expect(back.status).toBe('available');
    } finally {
      stop();
    }
  });

  it('retries a failing task with backoff, then dead-letters it; requeue gives it fresh attempts', async () => {
    const c = cap();
    const a = await agentIn(c);
    const stop = heartbeatWhile([a.id]);
    try {
      const { id } = await h.admin.submit(c, null, { maxAttempts: 3 });
      for (let attempt = 1; attempt <= 3; attempt++) {
        const t = await h.admin.nextTask(a.id, 3000);
        expect(t).toMatchObject({ id, attempt });
        await h.admin.fail(id, a.id, { message: `boom ${attempt}` });
      }
      const task = await h.admin.get(id);
      expect(task.status).toBe('dead_lettered');
      expect(task.attempts).toBe(3);
      const types = (await h.running.store.events.readStream('default', 'task', id)).map((e) => e.type);
      expect(types.filter((t) => t === 'TaskRetried')).toHaveLength(2);
      expect(types.at(-1)).toBe('TaskDeadLettered');
      const dead = await h.admin.deadLetters({ capability: c });
      expect(dead.items.map((t) => t.id)).toEqual([id]);
      const requeued = await h.admin.requeue(id);
      expect(requeued).toMatchObject({ status: 'queued', attempts: 0 });
      expect(await h.admin.nextTask(a.id, 3000)).toMatchObject({ id, attempt: 1 });
    } finally {
      stop();
    }
  });

  it('fails a non-retryable failure at once', async () => {
    const c = cap();
    const a = await agentIn(c);
    const { id } = await h.admin.submit(c, null, { maxAttempts: 5 });
    await h.admin.nextTask(a.id, 2000);
    const task = await h.admin.fail(id, a.id, { message: 'bad input', code: 'invalid' }, false);
    expect(task).toMatchObject({ status: 'failed', attempts: 1, error: { message: 'bad input', code: 'invalid', retryable: false } });
  });

  it('accepts the same completion twice and stores one TaskCompleted event', async () => {
    const c = cap();
    const a = await agentIn(c);
    const { id } = await h.admin.submit(c, null);
    await h.admin.nextTask(a.id, 2000);
    const first = await h.admin.complete(id, a.id, { v: 1 });
    const second = await h.admin.complete(id, a.id, { v: 1 });
    expect(first.status).toBe('completed');
    expect(second).toEqual(first);
    const types = (await h.running.store.events.readStream('default', 'task', id)).map((e) => e.type);
    expect(types.filter((t) => t === 'TaskCompleted')).toHaveLength(1);
    expect(types).toEqual(['TaskSubmitted', 'TaskAssigned', 'TaskStarted', 'TaskCompleted']);
    const other = await h.admin.complete(id, a.id, { v: 2 }).catch((e: unknown) => e);
    expect((other as AgentMeshError).status).toBe(409);
    expect((await h.admin.get(id)).output).toEqual({ v: 1 });
  });

  it('long poll answers 204 when nothing arrives, and 200 as soon as a task does', async () => {
    const c = cap();
    const a = await agentIn(c);
    const empty = await h.request('GET', `/v1/agents/${a.id}/tasks/next?waitMs=100`);
    expect(empty.status).toBe(204);
    const started = Date.now();
    const waiting = h.request('GET', `/v1/agents/${a.id}/tasks/next?waitMs=5000`);
    await new Promise((r) => setTimeout(r, 100));
    const { id } = await h.admin.submit(c, { hi: 1 });
    const got = await waiting;
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, input: { hi: 1 }, attempt: 1 });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('pushes tasks over Server-Sent Events', async () => {
    const c = cap();
    const a = await agentIn(c, { maxConcurrentTasks: 2 });
    const controller = new AbortController();
    const response = await fetch(`${h.url}/v1/agents/${a.id}/stream`, { headers: { authorization: `Bearer ${h.adminKey}` }, signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const { id } = await h.admin.submit(c, { via: 'sse' });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('\n\ndata') && !/data: .*\n\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text).toContain('event: task');
    const data = JSON.parse(/data: (.*)\n/.exec(text)![1]!);
    expect(data).toMatchObject({ id, input: { via: 'sse' }, attempt: 1 });
    expect((await h.admin.get(id)).status).toBe('running');
  });

  it('answers 404 problem+json for the stream of an unknown agent', async () => {
    const res = await h.request('GET', '/v1/agents/no-such-agent/stream');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });

  it('keeps a task queued until a capable agent joins', async () => {
    const c = cap();
    const { id } = await h.admin.submit(c, null);
    await new Promise((r) => setTimeout(r, 100));
    expect((await h.admin.get(id)).status).toBe('queued');
    const a = await agentIn(c);
    expect(await h.admin.nextTask(a.id, 2000)).toMatchObject({ id });
  });

  it('fails a queued task whose deadline passes, with the reason', async () => {
    const c = cap();
    const { id } = await h.admin.submit(c, null, { deadline: Date.now() + 150 });
    const task = await h.admin.get(id, { waitMs: 3000 });
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'deadline_exceeded' });
  });

  it('gives a paused agent no new tasks until it resumes', async () => {
    const c = cap();
    const a = await agentIn(c);
    const stop = heartbeatWhile([a.id]);
    try {
      await h.admin.pauseAgent(a.id);
      const { id } = await h.admin.submit(c, null);
      expect(await h.admin.nextTask(a.id, 200)).toBeUndefined();
      await h.admin.resumeAgent(a.id);
      expect(await h.admin.nextTask(a.id, 2000)).toMatchObject({ id });
    } finally {
      stop();
    }
  });

  it('hands a terminated agent’s task to another agent without using up an attempt', async () => {
    const c = cap();
    const a = await agentIn(c);
    const { id } = await h.admin.submit(c, null, { maxAttempts: 1 });
    await h.admin.nextTask(a.id, 2000);
    const b = await agentIn(c);
    await h.admin.terminateAgent(a.id);
    expect(await h.admin.nextTask(b.id, 2000)).toMatchObject({ id, attempt: 1 });
    await h.admin.complete(id, b.id, 'done');
    expect((await h.admin.get(id)).status).toBe('completed');
  });

  it('keeps a task handed back or retried ahead of those of its priority submitted after it (FIFO by submission)', async () => {
    const c = cap();
    const a = await agentIn(c);
    const { id: first } = await h.admin.submit(c, null, { maxAttempts: 3 });
    expect(await h.admin.nextTask(a.id, 2000)).toMatchObject({ id: first });
    const later: string[] = [];
    for (let i = 0; i < 4; i++) later.push((await h.admin.submit(c, null)).id);
    // Handed back: first in line again, though queued after the others.
    await h.admin.terminateAgent(a.id);
    const b = await agentIn(c);
    const handedBack = await h.admin.nextTask(b.id, 2000);
    expect(handedBack?.id).toBe(first);
    // Retried: once its backoff is over, first in line again (the agent paused meanwhile, so that nothing is taken before).
    await h.admin.pauseAgent(b.id);
    await h.admin.fail(first, b.id, { message: 'again' });
    const { availableAt } = await h.admin.get(first);
    await new Promise((r) => setTimeout(r, Math.max(0, availableAt - Date.now()) + 50));
    const d = await agentIn(c);
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const task = await h.admin.nextTask(d.id, 2000);
      order.push(task!.id);
      await h.admin.complete(task!.id, d.id, 'done');
    }
    expect(order).toEqual([first, ...later]);
  });

  it('cancels a running task; the agent’s completion then gets 409', async () => {
    const c = cap();
    const a = await agentIn(c);
    const { id } = await h.admin.submit(c, null);
    await h.admin.nextTask(a.id, 2000);
    expect((await h.admin.cancel(id)).status).toBe('canceled');
    const late = await h.admin.complete(id, a.id, null).catch((e: AgentMeshError) => e);
    expect((late as AgentMeshError).status).toBe(409);
    expect((await h.admin.getAgent(a.id)).inFlight).toBe(0);
  });

  it('broadcasts one copy to every capable agent and completes with per-copy results', async () => {
    const c = cap();
    const agents = await Promise.all([agentIn(c), agentIn(c), agentIn(c)]);
    const { id } = await h.admin.submit(c, { q: 'status?' }, { routing: { strategy: 'broadcast' } });
    for (const a of agents) {
      const t = await h.admin.nextTask(a.id, 2000);
      expect(t?.parentId).toBe(id);
      await h.admin.complete(t!.id, a.id, { from: a.id });
    }
    const parent = await h.admin.get<{ results: Array<{ agentId: string; status: string; output: unknown }> }>(id, { waitMs: 3000 });
    expect(parent.status).toBe('completed');
    expect(parent.output!.results.map((r) => r.agentId).sort()).toEqual(agents.map((a) => a.id).sort());
    expect(parent.output!.results.every((r) => r.status === 'completed')).toBe(true);
  });

  it('routes the same affinity key to the same agent and spreads round robin evenly', async () => {
    const c = cap();
    const agents = await Promise.all([1, 2, 3].map(() => agentIn(c, { maxConcurrentTasks: 50 })));
    const stop = heartbeatWhile(agents.map((a) => a.id));
    try {
      const sticky = await Promise.all(Array.from({ length: 6 }, () => h.admin.submit(c, null, { routing: { strategy: 'affinity', affinityKey: 'customer-42' } })));
      const spread = await Promise.all(Array.from({ length: 9 }, () => h.admin.submit(c, null, { routing: { strategy: 'round_robin' } })));
      const owner = new Map<string, string>();
      await eventually(async () => {
        for (const { id } of [...sticky, ...spread]) {
          const t = await h.admin.get(id);
          if (t.agentId) owner.set(id, t.agentId);
        }
        return owner.size === 15;
      }, 5000, 'all assigned');
      expect(new Set(sticky.map((s) => owner.get(s.id))).size).toBe(1);
      const counts = new Map<string, number>();
      for (const s of spread) counts.set(owner.get(s.id)!, (counts.get(owner.get(s.id)!) ?? 0) + 1);
      expect([...counts.values()]).toEqual([3, 3, 3]);
    } finally {
      stop();
    }
  });

  it('lets a terminated or silent agent id register again, but not a live one', async () => {
    const c = cap();
    const first = await h.admin.registerAgent({ id: 'phoenix', name: 'phoenix', capabilities: [{ name: c }] });
    const dup = await h.request('POST', '/v1/agents', { body: { id: 'phoenix', name: 'again', capabilities: [{ name: c }] } });
    expect(dup.status).toBe(409);
    const gone = await h.admin.terminateAgent(first.id);
    expect(gone).toMatchObject({ status: 'terminated', inFlight: 0 });
    const back = await h.admin.registerAgent({ id: 'phoenix', name: 'phoenix v2', capabilities: [{ name: c }, { name: 'extra' }] });
    expect(back).toMatchObject({ status: 'available', name: 'phoenix v2', version: first.version + 2 });
    // Silent until unhealthy, then it rejoins under the same id.
    await eventually(async () => (await h.admin.getAgent('phoenix')).status === 'unhealthy', 5000, 'unhealthy');
    const rejoined = await h.admin.registerAgent({ id: 'phoenix', name: 'phoenix v3', capabilities: [{ name: c }] });
    expect(rejoined.status).toBe('available');
    const types = (await h.running.store.events.readStream('default', 'agent', 'phoenix')).map((e) => e.type);
    expect(types).toEqual(['AgentRegistered', 'AgentTerminated', 'AgentRegistered', 'AgentHeartbeatMissed', 'AgentRegistered']);
  });

  it('treats an open stream and long polls as heartbeats', async () => {
    const c = cap();
    const polled = await agentIn(c);
    const streamed = await agentIn(c);
    const controller = new AbortController();
    const stream = await fetch(`${h.url}/v1/agents/${streamed.id}/stream`, { headers: { authorization: `Bearer ${h.adminKey}` }, signal: controller.signal });
    expect(stream.status).toBe(200);
    const until = Date.now() + 1000; // well past the 400 ms heartbeat timeout
    while (Date.now() < until) await h.admin.nextTask(polled.id, 100);
    expect((await h.admin.getAgent(polled.id)).status).toBe('available');
    expect((await h.admin.getAgent(streamed.id)).status).toBe('available');
    controller.abort();
  });

  it('keeps an agent alive through a long poll longer than the heartbeat timeout, and ends it on a revoked key', async () => {
    const c = cap();
    const a = await agentIn(c);
    const empty = await h.request('GET', `/v1/agents/${a.id}/tasks/next?waitMs=1500`);
    expect(empty.status).toBe(204);
    expect((await h.admin.getAgent(a.id)).status).toBe('available');
    const key = await h.admin.http.json<{ id: string; key: string }>('POST', '/v1/api-keys', { body: { name: 'poller', role: 'agent', agentId: a.id } });
    const started = Date.now();
    const polling = h.request('GET', `/v1/agents/${a.id}/tasks/next?waitMs=10000`, { key: key.key });
    await new Promise((r) => setTimeout(r, 100));
    await h.request('DELETE', `/v1/api-keys/${key.id}`);
    expect((await polling).status).toBe(401);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it("refuses an agent key another agent's inbox, by stream and by poll, saying it may not receive that agent's tasks", async () => {
    const c = cap();
    const a = await agentIn(c);
    const b = await agentIn(c);
    const key = await h.admin.http.json<{ key: string }>('POST', '/v1/api-keys', { body: { name: 'a only', role: 'agent', agentId: a.id } });
    for (const path of [`/v1/agents/${b.id}/stream`, `/v1/agents/${b.id}/tasks/next?waitMs=0`]) {
      const refused = await h.request('GET', path, { key: key.key });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ action: 'receive tasks' });
    }
  });

  it('frees the id of a paused agent that went silent', async () => {
    const c = cap();
    await h.admin.registerAgent({ id: 'napper', name: 'napper', capabilities: [{ name: c }] });
    await h.admin.pauseAgent('napper');
    const early = await h.request('POST', '/v1/agents', { body: { id: 'napper', name: 'napper', capabilities: [{ name: c }] } });
    expect(early.status).toBe(409);
    await new Promise((r) => setTimeout(r, 500));
    expect((await h.admin.registerAgent({ id: 'napper', name: 'napper', capabilities: [{ name: c }] })).status).toBe('available');
  });

  it('ends an open stream when its key is revoked', async () => {
    const c = cap();
    const a = await agentIn(c);
    const key = await h.admin.http.json<{ id: string; key: string }>('POST', '/v1/api-keys', { body: { name: 'worker key', role: 'agent', agentId: a.id } });
    const response = await fetch(`${h.url}/v1/agents/${a.id}/stream`, { headers: { authorization: `Bearer ${key.key}` } });
    expect(response.status).toBe(200);
    await h.request('DELETE', `/v1/api-keys/${key.id}`);
    const reader = response.body!.getReader();
    const ended = await Promise.race([
      (async () => {
        for (;;) if ((await reader.read()).done) return true;
      })(),
      new Promise<boolean>((r) => setTimeout(() => r(false), 8000)),
    ]);
    expect(ended).toBe(true);
  });

  it('stops an SDK agent whose key is revoked without crashing the process', async () => {
    const c = cap();
    const key = await h.admin.http.json<{ id: string; key: string }>('POST', '/v1/api-keys', { body: { name: 'doomed key', role: 'agent', agentId: 'revoked-agent' } });
    const errors: unknown[] = [];
    const contexts: AgentErrorContext[] = [];
    const worker = await new Agent({ url: h.url, apiKey: key.key, id: 'revoked-agent', name: 'revoked', capabilities: [c], transport: 'poll', heartbeatIntervalMs: 100, onError: (e, context) => (errors.push(e), contexts.push(context)) })
      .handle(c, () => 'never')
      .start();
    await h.request('DELETE', `/v1/api-keys/${key.id}`);
    await eventually(() => worker.fatalError !== undefined, 8000, 'the agent to give up');
    expect((worker.fatalError as AgentMeshError).status).toBe(401);
    await worker.stop({ graceMs: 100 });
    // Reported once, and no DELETE attempted with the dead key.
    expect(errors.filter((e) => (e as AgentMeshError).status === 401)).toHaveLength(1);
    // Said with what the agent was doing: a heartbeat or its long poll met the refusal, and it gave up.
    expect(contexts.filter((context) => context.fatal)).toEqual([{ operation: expect.stringMatching(/^(heartbeat|receive)$/), fatal: true }]);
  });

  it('runs SDK agents end to end over SSE and long poll, extending leases of slow work', async () => {
    const c = cap();
    const workers = await Promise.all(
      (['stream', 'poll'] as const).map((transport, i) =>
        new Agent({ url: h.url, apiKey: h.adminKey, name: `sdk-${transport}`, capabilities: [c], transport, maxConcurrentTasks: 4, heartbeatIntervalMs: 100 })
          .handle(c, async (input: { n: number; slow?: boolean }) => {
            if (input.slow) await new Promise((r) => setTimeout(r, 2500));
            return { doubled: input.n * 2, by: i };
          })
          .start(),
      ),
    );
    try {
      // The handler outlasts its lease 2.5 times over; renewals every half lease keep it.
      const slow = await h.admin.submit(c, { n: 0, slow: true }, { leaseMs: 1000, maxAttempts: 1 });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => h.admin.run<{ doubled: number }>(c, { n: i + 1 }, { timeoutMs: 10_000 })));
      expect(results.map((r) => r.output?.doubled)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 2));
      const slowTask = await h.admin.waitForResult(slow.id, { timeoutMs: 10_000 });
      expect(slowTask).toMatchObject({ status: 'completed', attempts: 1 });
    } finally {
      await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
    }
  });

  it('an SDK agent runs a requeued dead letter again, on either transport, though its attempts count from 1 again', async () => {
    for (const transport of ['stream', 'poll'] as const) {
      const c = cap();
      let healed = false;
      const runs: number[] = [];
      const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: `requeue-${transport}`, capabilities: [c], transport, heartbeatIntervalMs: 100 })
        .handle(c, async (_input, { task }) => {
          runs.push(task.attempt);
          if (!healed) throw new Error('not yet');
          return 'healed';
        })
        .start();
      try {
        const { id } = await h.admin.submit(c, null, { maxAttempts: 2 });
        await eventually(async () => (await h.admin.get(id)).status === 'dead_lettered', 5000, 'the task to be dead-lettered');
        healed = true;
        await h.admin.requeue(id);
        expect(await h.admin.waitForResult(id, { timeoutMs: 5000 })).toMatchObject({ status: 'completed', output: 'healed', attempts: 1 });
        expect(runs).toEqual([1, 2, 1]);
      } finally {
        await worker.stop();
      }
    }
  });

  it('an SDK agent starts once: a second start, or one after stop, throws rather than register another agent; a handler needs a declared capability', async () => {
    const c = cap();
    const worker = new Agent({ url: h.url, apiKey: h.adminKey, name: 'once', capabilities: [c], heartbeatIntervalMs: 100 }).handle(c, () => 'ok');
    expect(() => worker.handle('undeclared', () => 'x')).toThrow(/capabilities do not list it/);
    await worker.start();
    await expect(worker.start()).rejects.toThrow('the agent is started already');
    await worker.stop();
    await expect(worker.start()).rejects.toThrow('a stopped Agent cannot be started again');
    expect((await h.admin.listAgents({ capability: c })).items).toHaveLength(1);
  });

  it("keeps a thrown error's code on a retryable failure", async () => {
    const c = cap();
    const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'coded', capabilities: [c], heartbeatIntervalMs: 100 })
      .handle(c, () => {
        throw Object.assign(new Error('upstream reset'), { code: 'ECONNRESET' });
      })
      .start();
    try {
      const task = await h.admin.run(c, null, { maxAttempts: 1, timeoutMs: 5000 });
      expect(task).toMatchObject({ status: 'dead_lettered', error: { message: 'upstream reset', code: 'ECONNRESET', retryable: true } });
    } finally {
      await worker.stop();
    }
  });

  it("fails a task at once, saying why, when its handler's output is not JSON", async () => {
    const c = cap();
    const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'bigint', capabilities: [c], heartbeatIntervalMs: 100, onError: () => {} }).handle(c, () => ({ n: 1n })).start();
    try {
      const task = await h.admin.run(c, null, { maxAttempts: 3, timeoutMs: 5000 });
      expect(task).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'output_not_json', retryable: false, message: expect.stringMatching(/^the handler's output is not JSON: .*BigInt/) } });
    } finally {
      await worker.stop();
    }
  });

  it("aborts a handler's signal when its task is canceled (at the next lease renewal), and keeps the lease a handler asked for", async () => {
    const c = cap();
    const reasons: unknown[] = [];
    const reported: AgentErrorContext[] = [];
    let leaseLeftAfterRenewals = 0;
    const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'withdrawn', capabilities: [c], heartbeatIntervalMs: 100, onError: (_error, context) => reported.push(context) })
      .handle(c, async (input: { cancel: boolean }, ctx) => {
        if (!input.cancel) {
          await ctx.extendLease(5_000);
          // Three renewals at half of the 400 ms lease would have cut it back to 400 ms.
          await new Promise((r) => setTimeout(r, 700));
          leaseLeftAfterRenewals = (await h.admin.get(ctx.task.id)).leaseExpiresAt! - Date.now();
          return 'kept';
        }
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        reasons.push(ctx.signal.reason);
        return 'never sent';
      })
      .start();
    try {
      expect(await h.admin.run(c, { cancel: false }, { leaseMs: 400, timeoutMs: 5000 })).toMatchObject({ status: 'completed', output: 'kept' });
      expect(leaseLeftAfterRenewals).toBeGreaterThan(3_000);

      const { id } = await h.admin.submit(c, { cancel: true }, { leaseMs: 400 });
      await eventually(async () => (await h.admin.get(id)).status === 'running', 3000, 'the task to run');
      await h.admin.cancel(id);
      await eventually(() => reasons.length === 1, 3000, "the handler's signal to abort");
      expect(reasons[0]).toBeInstanceOf(TaskWithdrawnError);
      expect((reasons[0] as TaskWithdrawnError).taskId).toBe(id);
      expect(await h.admin.get(id)).toMatchObject({ status: 'canceled' });
      expect(reported).toContainEqual({ operation: 'renew', taskId: id });
    } finally {
      await worker.stop();
    }
  });

  it("carries the submitter's W3C trace context to the agent: in the assignment's headers and in the delivered task", async () => {
    const c = cap();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const a = await agentIn(c);
    const stop = heartbeatWhile([a.id]);
    try {
      const single = await h.request('POST', '/v1/tasks', { body: { capability: c, input: 1 }, headers: { traceparent, tracestate: 'vendor=abc' } });
      expect((await h.request('GET', `/v1/tasks/${single.body.id}`)).body.traceContext).toEqual({ traceparent, tracestate: 'vendor=abc' });
      // The assignment message itself, read off the agent's inbox.
      const message = await h.running.broker.pull(agentInboxSubject('default', a.id), { ackWaitMs: 1000, waitMs: 2000 });
      expect(message!.headers).toMatchObject({ 'task-id': single.body.id, traceparent, tracestate: 'vendor=abc' });
      message!.nak(0);
      expect(await h.admin.nextTask(a.id, 2000)).toMatchObject({ id: single.body.id, traceparent, tracestate: 'vendor=abc' });

      // A batch gives each of its tasks the request's context; a malformed one is ignored, not refused.
      const batch = await h.request('POST', '/v1/tasks/batch', { body: { tasks: [{ capability: c }, { capability: c }] }, headers: { traceparent } });
      for (const r of batch.body.results) expect((await h.request('GET', `/v1/tasks/${r.body.id}`)).body.traceContext).toEqual({ traceparent });
      const malformed = await h.request('POST', '/v1/tasks', { body: { capability: c }, headers: { traceparent: 'not-a-trace' } });
      expect(malformed.status).toBe(202);
      expect((await h.request('GET', `/v1/tasks/${malformed.body.id}`)).body.traceContext).toBeUndefined();
    } finally {
      stop();
    }
  });

  it('hands the trace context to an SDK agent, and the SDK client sends it', async () => {
    const c = cap();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    let seen: string | undefined;
    const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'tracer', capabilities: [c], heartbeatIntervalMs: 100 })
      .handle(c, (_input, { task }) => {
        seen = task.traceparent;
        return 'ok';
      })
      .start();
    try {
      const { id } = await h.admin.submit(c, {}, { traceparent });
      expect((await h.admin.waitForResult(id, { timeoutMs: 5000 })).status).toBe('completed');
      expect(seen).toBe(traceparent);
    } finally {
      await worker.stop();
    }
  });
});
