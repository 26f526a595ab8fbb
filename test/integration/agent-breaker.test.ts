import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
      AGENTMESH_AGENT_BREAKER_COOLDOWN_MS: '400',
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
    expect(opened.circuit.probeAt - opened.circuit.openedAt).toBe(400);
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
    expect(reopened.circuit.probeAt - reopened.circuit.openedAt).toBe(800);

    // A healthy agent of the capability gets the work while the flaky one is out.
    await h.admin.submit('breaker-two', { n: 2 });
    await h.admin.registerAgent({ id: 'steady', name: 'steady', capabilities: [{ name: 'breaker-two' }] });
    const taken = await h.admin.nextTask('steady', 3000);
    expect(taken).toBeDefined();
    await h.admin.complete(taken!.id, 'steady', 'done');
    expect((await h.admin.get(taken!.id)).status).toBe('completed');
  });

  it('does not blame an agent for a task that failed before (a poison task bouncing between agents), nor for failures it reports', { timeout: 60_000 }, async () => {
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
    // Reported failures of fresh tasks do not count either.
    for (let i = 0; i < 6; i++) {
      const { id: fresh } = await h.admin.submit('breaker-poison', { i }, { maxAttempts: 1 });
      const task = await h.admin.nextTask('patient', 3000);
      if (task?.id !== fresh) continue;
      await h.admin.fail(fresh, 'patient', { message: 'upstream tool timed out' }, true);
    }
    expect((await agent('patient')).circuit.state).toBe('closed');
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
});
