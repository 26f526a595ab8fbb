import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/sdk/index.js';
import { eventually, startHarness, type Harness } from '../support/mesh-harness.js';

/** An agent that keeps failing is taken out of routing by its own circuit breaker, probed after a cool-down, and brought back. */
describe('per-agent circuit breakers', () => {
  let h: Harness;
  const agent = (id: string) => h.request('GET', `/v1/agents/${id}`).then((r) => r.body);
  /** A fresh task (its first attempt: only those count) that the agent takes and then lets its lease lapse on. */
  const failNext = async (id: string, capability: string) => {
    const { id: taskId } = await h.admin.submit(capability, { fresh: true }, { maxAttempts: 1, leaseMs: 150 });
    const task = await h.admin.nextTask(id, 3000);
    expect(task?.id).toBe(taskId);
    await eventually(async () => (await h.admin.get(taskId)).status === 'dead_lettered', 5000, 'the lease to lapse');
    return taskId;
  };

  beforeAll(async () => {
    h = await startHarness({
      AGENTMESH_AGENT_BREAKER_FAILURES: '3',
      // Long enough that, on a loaded machine, the steps while it is open do not outlast it.
      AGENTMESH_AGENT_BREAKER_COOLDOWN_MS: '1500',
      AGENTMESH_SWEEP_INTERVAL_MS: '50',
      AGENTMESH_RETRY_BASE_MS: '1',
      AGENTMESH_RETRY_CAP_MS: '5',
      AGENTMESH_MAX_ATTEMPTS: '50',
    });
  });
  afterAll(async () => h?.close());

  it('opens after its failures in a row (unhealthy, no tasks), half-opens for one probe after the cool-down, and closes when it succeeds', async () => {
    await h.admin.registerAgent({ id: 'flaky', name: 'flaky', capabilities: [{ name: 'breaker-work' }] });
    expect((await agent('flaky')).circuit).toEqual({ state: 'closed', consecutiveFailures: 0, opens: 0 });

    await failNext('flaky', 'breaker-work');
    await failNext('flaky', 'breaker-work');
    expect((await agent('flaky')).circuit).toMatchObject({ state: 'closed', consecutiveFailures: 2 });
    await failNext('flaky', 'breaker-work');
    const opened = await agent('flaky');
    expect(opened.status).toBe('unhealthy');
    expect(opened.circuit).toMatchObject({ state: 'open', consecutiveFailures: 3, opens: 1 });
    expect(opened.circuit.probeAt - opened.circuit.openedAt).toBe(1500);
    // Open: a task waits, and heartbeats do not bring the agent back.
    const { id: taskId } = await h.admin.submit('breaker-work', { n: 1 });
    await h.admin.heartbeat('flaky');
    expect((await agent('flaky')).status).toBe('unhealthy');
    expect(await h.admin.nextTask('flaky', 100)).toBeUndefined();
    expect((await h.admin.get(taskId)).status).toBe('queued');
    expect((await h.admin.listAgents({ status: 'unhealthy' })).items.map((a) => a.id)).toContain('flaky');

    // After the cool-down, while it heartbeats, it gets one probe task.
    await eventually(async () => (await agent('flaky')).circuit.state === 'half_open', 5000, 'the breaker to half-open');
    // Live again (busy at once: the waiting task went to it as its probe).
    expect(['available', 'busy']).toContain((await agent('flaky')).status);
    const probe = await h.admin.nextTask('flaky', 3000);
    expect(probe?.id).toBe(taskId);
    await h.admin.complete(taskId, 'flaky', { ok: true });
    await eventually(async () => (await agent('flaky')).circuit.state === 'closed', 5000, 'the breaker to close');
    expect(await agent('flaky')).toMatchObject({ status: 'available', circuit: { state: 'closed', consecutiveFailures: 0, opens: 0 } });

    // Every change is an event and an audit entry of the mesh's own.
    const events = (await h.running.store.events.readStream('default', 'agent', 'flaky')).map((e) => e.type);
    expect(events).toEqual(expect.arrayContaining(['AgentCircuitOpened', 'AgentCircuitHalfOpened', 'AgentCircuitClosed']));
    await eventually(
      async () => {
        const audit = await h.request('GET', '/v1/audit?action=AGENT_UPDATED&resourceId=flaky');
        const changes = (audit.body.items as Array<{ details: { change: string } }>).map((e) => e.details.change);
        return changes.some((c) => c.startsWith('unhealthy: circuit breaker opened after 3 failures')) && changes.includes('recovered: its probe task succeeded');
      },
      5000,
      'the audit entries',
    );
    const metrics = (await h.request('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/agentmesh_agent_circuit_transitions_total\{tenant="default",to="open"\} 1/);
    expect(metrics).toMatch(/agentmesh_agent_circuit_transitions_total\{tenant="default",to="closed"\} 1/);
  });

  it('a failed probe opens it again with a doubled cool-down; the other agents take the work meanwhile', async () => {
    await h.admin.registerAgent({ id: 'flaky-2', name: 'flaky-2', capabilities: [{ name: 'breaker-two' }] });
    for (let i = 0; i < 3; i++) await failNext('flaky-2', 'breaker-two');
    expect((await agent('flaky-2')).circuit.state).toBe('open');
    await eventually(async () => (await agent('flaky-2')).circuit.state === 'half_open', 5000, 'the breaker to half-open');
    await failNext('flaky-2', 'breaker-two');
    const reopened = await agent('flaky-2');
    expect(reopened).toMatchObject({ status: 'unhealthy', circuit: { state: 'open', opens: 2 } });
    expect(reopened.circuit.probeAt - reopened.circuit.openedAt).toBe(3000);

    // A healthy agent of the capability gets the work while the flaky one is out.
    await h.admin.submit('breaker-two', { n: 2 });
    await h.admin.registerAgent({ id: 'steady', name: 'steady', capabilities: [{ name: 'breaker-two' }] });
    const taken = await h.admin.nextTask('steady', 3000);
    expect(taken).toBeDefined();
    await h.admin.complete(taken!.id, 'steady', 'done');
    expect((await h.admin.get(taken!.id)).status).toBe('completed');
  });

  it('does not blame an agent for a task that failed before (a poison task bouncing between agents), nor for failures it reports with no peer to compare with', { timeout: 60_000 }, async () => {
    await h.admin.registerAgent({ id: 'patient', name: 'patient', capabilities: [{ name: 'breaker-poison' }] });
    const { id } = await h.admin.submit('breaker-poison', { poison: true }, { maxAttempts: 20, leaseMs: 150 });
    // Its first attempt lapses (that counts), the next ones lapse or fail (those do not).
    for (let attempt = 1; attempt <= 6; attempt++) {
      const task = await h.admin.nextTask('patient', 3000);
      expect(task?.id).toBe(id);
      if (attempt % 2 === 0) await h.admin.fail(id, 'patient', { message: 'cannot parse the input' }, true).catch(() => {});
      await eventually(async () => ['queued', 'assigned'].includes((await h.admin.get(id)).status) || (await h.admin.get(id)).attempts > attempt, 5000, 'the attempt to end');
    }
    expect((await agent('patient')).circuit).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
    // Out of the way (a cancel does not count), so that the agent gets the fresh tasks below.
    await h.admin.cancel(id);
    await eventually(async () => (await agent('patient')).status === 'available', 5000, 'the agent to be free');
    // Reported failures of fresh tasks do not count either: no peer shows that the tasks could be done.
    for (let i = 0; i < 6; i++) {
      const { id: fresh } = await h.admin.submit('breaker-poison', { i }, { maxAttempts: 1 });
      const task = await h.admin.nextTask('patient', 3000);
      expect(task?.id).toBe(fresh);
      await h.admin.fail(fresh, 'patient', { message: 'upstream tool timed out' }, true);
    }
    expect((await agent('patient')).circuit).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
  });

  it('does not count what is not the agent\'s doing: a non-retryable failure (a bad task) or a cancel', async () => {
    await h.admin.registerAgent({ id: 'picky', name: 'picky', capabilities: [{ name: 'breaker-three' }] });
    for (let i = 0; i < 5; i++) {
      const { id } = await h.admin.submit('breaker-three', { i });
      const task = await h.admin.nextTask('picky', 3000);
      expect(task?.id).toBe(id);
      if (i % 2 === 0) await h.admin.fail(id, 'picky', { message: 'input is not a valid invoice' }, false);
      else await h.admin.cancel(id);
    }
    expect(await agent('picky')).toMatchObject({ status: 'available', circuit: { state: 'closed', consecutiveFailures: 0 } });
  });

  /** SDK agents on one capability: each either does its tasks or fails them all (retryable). */
  const workers = (capability: string, behaviours: Record<string, 'works' | 'fails'>) =>
    Promise.all(
      Object.entries(behaviours).map(([id, behaviour]) =>
        new Agent({ url: h.url, apiKey: h.adminKey, id, name: id, capabilities: [capability], transport: 'poll', heartbeatIntervalMs: 100 })
          .handle(capability, () => {
            if (behaviour === 'fails') throw new Error('upstream refused the call');
            return 'done';
          })
          .start(),
      ),
    );
  const openings = async (id: string) =>
    (await h.running.store.events.readStream('default', 'agent', id)).filter((e) => e.type === 'AgentCircuitOpened').map((e) => e.data as { reason: string; failureRatio?: number; peerFailureRatio?: number });

  it('opens an agent that fails the tasks its peers get done (failure rate against its peers), and only that one', { timeout: 60_000 }, async () => {
    const started = await workers('breaker-rate', { 'rate-good-1': 'works', 'rate-good-2': 'works', 'rate-broken': 'fails' });
    try {
      const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => h.admin.submit('breaker-rate', { i }, { maxAttempts: 50, routing: { strategy: 'round_robin' } }).then((t) => t.id)));
      const tasks = await Promise.all(ids.map((id) => h.admin.waitForResult(id, { timeoutMs: 30_000 })));
      expect(tasks.every((t) => t.status === 'completed')).toBe(true);
      const [opened] = await openings('rate-broken');
      expect(opened).toMatchObject({ reason: 'failure_rate', failureRatio: 1, peerFailureRatio: 0 });
      expect(await openings('rate-good-1')).toEqual([]);
      expect(await openings('rate-good-2')).toEqual([]);
      await eventually(
        async () => {
          const audit = await h.request('GET', '/v1/audit?action=AGENT_UPDATED&resourceId=rate-broken');
          return (audit.body.items as Array<{ details: { change: string } }>).some((e) => e.details.change === 'unhealthy: circuit breaker opened: it failed 100% of its last tasks, its peers 0%');
        },
        5000,
        'the audit entry',
      );
    } finally {
      await Promise.all(started.map((w) => w.stop({ graceMs: 100 })));
    }
  });

  it("judges an agent on each capability apart: failing one capability's tasks (its upstream down) does not take it out of another it does well", { timeout: 60_000 }, async () => {
    const peers = await workers('mix-x', { 'mix-peer-1': 'works', 'mix-peer-2': 'works' });
    let mixed: Agent | undefined;
    try {
      // The peers have a record on x first.
      const warm = await Promise.all(Array.from({ length: 24 }, (_, i) => h.admin.submit('mix-x', { i }, { routing: { strategy: 'round_robin' } }).then((t) => t.id)));
      await Promise.all(warm.map((id) => h.admin.waitForResult(id, { timeoutMs: 30_000 })));
      let xSeen = 0;
      mixed = await new Agent({ url: h.url, apiKey: h.adminKey, id: 'mixed', name: 'mixed', capabilities: ['mix-x', 'mix-y'], transport: 'poll', heartbeatIntervalMs: 100 })
        .handle('mix-y', () => {
          throw new Error('the y upstream is down');
        })
        .handle('mix-x', () => {
          // Its first x task fails; the others go well.
          if (++xSeen === 1) throw new Error('one bad x call');
          return 'x done';
        })
        .start();
      const ys = await Promise.all(Array.from({ length: 10 }, (_, i) => h.admin.submit('mix-y', { i }, { maxAttempts: 1 }).then((t) => t.id)));
      await Promise.all(ys.map((id) => h.admin.waitForResult(id, { timeoutMs: 30_000 })));
      // Ten y failures in a row, then an x failure: on x it has one outcome, its peers none failed; judged together it would be 11 of 11.
      const xs = await Promise.all(Array.from({ length: 15 }, (_, i) => h.admin.submit('mix-x', { i }, { maxAttempts: 5, routing: { strategy: 'round_robin' } }).then((t) => t.id)));
      const done = await Promise.all(xs.map((id) => h.admin.waitForResult(id, { timeoutMs: 30_000 })));
      expect(done.every((t) => t.status === 'completed')).toBe(true);
      expect(xSeen).toBeGreaterThan(1);
      expect(await openings('mixed')).toEqual([]);
    } finally {
      await Promise.all([...(mixed ? [mixed] : []), ...peers].map((w) => w.stop({ graceMs: 100 })));
    }
  });

  it('opens none when every agent fails alike (their upstream down for all)', { timeout: 60_000 }, async () => {
    const started = await workers('breaker-down', { 'down-1': 'fails', 'down-2': 'fails', 'down-3': 'fails' });
    try {
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => h.admin.submit('breaker-down', { i }, { maxAttempts: 3 }).then((t) => t.id)));
      const tasks = await Promise.all(ids.map((id) => h.admin.waitForResult(id, { timeoutMs: 30_000 })));
      expect(tasks.every((t) => t.status === 'dead_lettered')).toBe(true);
      for (const id of ['down-1', 'down-2', 'down-3']) {
        expect(await openings(id)).toEqual([]);
        expect((await agent(id)).circuit.state).toBe('closed');
      }
    } finally {
      await Promise.all(started.map((w) => w.stop({ graceMs: 100 })));
    }
  });
});

describe('the cap on agents out of routing at once', () => {
  let h: Harness;
  const agent = (id: string) => h.request('GET', `/v1/agents/${id}`).then((r) => r.body);
  const lapse = async (id: string) => {
    const { id: taskId } = await h.admin.submit('capped-work', { fresh: true }, { maxAttempts: 1, leaseMs: 150 });
    expect((await h.admin.nextTask(id, 3000))?.id).toBe(taskId);
    await eventually(async () => (await h.admin.get(taskId)).status === 'dead_lettered', 5000, 'the lease to lapse');
  };

  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_AGENT_BREAKER_FAILURES: '2', AGENTMESH_AGENT_BREAKER_COOLDOWN_MS: '600000', AGENTMESH_AGENT_BREAKER_MAX_EJECTION_PERCENT: '50', AGENTMESH_SWEEP_INTERVAL_MS: '50' });
  });
  afterAll(async () => h?.close());

  it('keeps a failing agent in routing while half of its capability is out, and opens it once that is no longer so', async () => {
    await h.admin.registerAgent({ id: 'cap-1', name: 'cap-1', capabilities: [{ name: 'capped-work' }] });
    await lapse('cap-1');
    await lapse('cap-1');
    expect((await agent('cap-1')).circuit.state).toBe('open');

    await h.admin.registerAgent({ id: 'cap-2', name: 'cap-2', capabilities: [{ name: 'capped-work' }] });
    await lapse('cap-2');
    await lapse('cap-2');
    // One of two is out already: the second stays in routing, its failures counted.
    expect(await agent('cap-2')).toMatchObject({ status: 'available', circuit: { state: 'closed', consecutiveFailures: 2 } });
    const metrics = (await h.request('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/agentmesh_agent_circuit_ejections_capped_total\{tenant="default"\} 1/);

    // The first one leaves the mesh: the next lapse of the second opens it.
    expect((await h.request('DELETE', '/v1/agents/cap-1')).status).toBeLessThan(300);
    await lapse('cap-2');
    expect(await agent('cap-2')).toMatchObject({ status: 'unhealthy', circuit: { state: 'open', consecutiveFailures: 3 } });
  });

  it('holds the cap when the agents fail at the same moment (their leases lapsing in one sweep)', async () => {
    for (const id of ['together-1', 'together-2']) await h.admin.registerAgent({ id, name: id, capabilities: [{ name: 'together' }] });
    for (let round = 0; round < 2; round++) {
      const ids = await Promise.all([1, 2].map((n) => h.admin.submit('together', { n, round }, { maxAttempts: 1, leaseMs: 200 }).then((t) => t.id)));
      // Each agent takes one; both leases lapse together.
      const taken = await Promise.all(['together-1', 'together-2'].map((id) => h.admin.nextTask(id, 3000)));
      expect(taken.map((t) => t?.id).sort()).toEqual([...ids].sort());
      await eventually(async () => (await Promise.all(ids.map((id) => h.admin.get(id)))).every((t) => t.status === 'dead_lettered'), 5000, 'both leases to lapse');
    }
    await new Promise((r) => setTimeout(r, 200));
    const states = await Promise.all(['together-1', 'together-2'].map(async (id) => (await agent(id)).circuit.state));
    expect(states.filter((s) => s === 'open')).toHaveLength(1);
    expect(states.filter((s) => s === 'closed')).toHaveLength(1);
  });
});
