import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus, registerAgent } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';
import { UnavailableError } from '../../../src/domain/index.js';

type Entry = Record<string, any>;

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The newest entries of the caller's tenant (the reading itself adds an AUDIT_LOG_EXPORTED entry after them). */
async function entries(h: Harness, query = '', key?: string): Promise<Entry[]> {
  const res = await h.request('GET', `/v1/audit?limit=500${query}`, key !== undefined ? { key } : {});
  return expectStatus(res, 200).items;
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('audit log through the API', () => {
  let h: Harness;
  let acme: { key: string; keyId: string };
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_AUDIT_AUTH_SUCCESS_SECONDS: '3600' });
    acme = await createTenant(h, 'acme');
  }, 60_000);
  afterAll(async () => h?.close());

  it('records a change with who made it, from where, its trace, and what it touched', async () => {
    const res = await h.request('POST', '/v1/agents', {
      key: acme.key,
      headers: { traceparent: TRACEPARENT, 'user-agent': 'audit-test/1.0' },
      body: { id: 'audited-agent', name: 'a', capabilities: [{ name: 'summarize' }] },
    });
    expectStatus(res, 201);
    const [entry] = (await entries(h, '&action=AGENT_CREATED', acme.key)).filter((e) => e.resourceId === 'audited-agent');
    expect(entry).toMatchObject({
      tenantId: 'acme',
      actor: { type: 'key', keyId: acme.keyId, role: 'admin' },
      action: 'AGENT_CREATED',
      resourceType: 'agent',
      resourceId: 'audited-agent',
      status: 'success',
      sourceIp: '127.0.0.1',
      userAgent: 'audit-test/1.0',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      details: { capabilities: ['summarize'] },
    });
    expect(entry!.hash).toMatch(/^[0-9a-f]{64}$/u);
    expect(entry!.seq).toBeGreaterThan(0);
  });

  it('records each item of a batch, with its own outcome', async () => {
    const res = await h.request('POST', '/v1/tasks/batch', {
      key: acme.key,
      body: { tasks: [{ capability: 'summarize', input: {} }, { capability: 'summarize', input: {}, priority: 42 }, { capability: 'summarize', input: {} }] },
    });
    // A schema violation of one item fails the whole request before any item runs.
    expectProblem(res, 400, 'validation');
    const ok = expectStatus(
      await h.request('POST', '/v1/tasks/batch', { key: acme.key, body: { tasks: [{ capability: 'summarize', input: {} }, { capability: 'summarize', input: {}, idempotencyKey: 'dup' }, { capability: 'summarize', input: {}, idempotencyKey: 'dup' }] } }),
      200,
    );
    const ids = ok.results.map((r: any) => r.body.id);
    const submitted = await entries(h, '&action=TASK_SUBMITTED', acme.key);
    for (const id of ids) expect(submitted.some((e) => e.resourceId === id && e.status === 'success')).toBe(true);
  });

  it('records a change that failed for want of a dependency (503), and leaves its 503 as it was when the log cannot take the entry either', async () => {
    const submit = () => h.request('POST', '/v1/tasks', { key: acme.key, body: { capability: 'unavailable-now', input: {} } });
    const storeAway = vi.spyOn(h.running.mesh.commands, 'submitTask').mockRejectedValue(new UnavailableError('the store is away (a test)'));
    try {
      expectProblem(await submit(), 503, 'unavailable');
      const failed = (await entries(h, '&action=TASK_SUBMITTED', acme.key)).filter((e) => e.status === 'failure' && (e.details as { capability?: string }).capability === 'unavailable-now');
      expect(failed).toHaveLength(1);
      expect(failed[0]!.details).toMatchObject({ httpStatus: 503 });
      const logAway = vi.spyOn(h.running.mesh.audit, 'logActions').mockRejectedValue(new UnavailableError('the audit log is away too (a test)'));
      try {
        expect(expectProblem(await submit(), 503, 'unavailable').detail).toBe('the store is away (a test)');
      } finally {
        logAway.mockRestore();
      }
    } finally {
      storeAway.mockRestore();
    }
  });

  it('records a refused role as UNAUTHORIZED_ACCESS, naming what was attempted', async () => {
    const observer = await createApiKey(h, 'observer', acme.key);
    expectProblem(await h.request('POST', '/v1/tasks', { key: observer.key, body: { capability: 'summarize', input: {} } }), 403, 'forbidden');
    const [denied] = await entries(h, '&action=UNAUTHORIZED_ACCESS&actorKeyId=' + observer.id, acme.key);
    expect(denied).toMatchObject({
      actor: { type: 'key', keyId: observer.id, role: 'observer' },
      status: 'denied',
      resourceType: 'task',
      details: { attempted: 'POST /v1/tasks', attemptedAction: 'TASK_SUBMITTED', reason: expect.stringContaining('observer') },
    });
  });

  it("records a reach into another tenant's resource as UNAUTHORIZED_ACCESS of the caller's tenant", async () => {
    await registerAgent(h, 'default-agent', ['summarize']);
    expectProblem(await h.request('GET', '/v1/agents/default-agent', { key: acme.key }), 404, 'not_found');
    expectProblem(await h.request('POST', '/v1/agents/default-agent/pause', { key: acme.key }), 404, 'not_found');
    const denied = await entries(h, '&action=UNAUTHORIZED_ACCESS&resourceId=default-agent', acme.key);
    expect(denied.map((e) => e.details.attempted).sort()).toEqual(['GET /v1/agents/:id', 'POST /v1/agents/:id/pause']);
    expect(denied.find((e) => e.details.attempted.startsWith('POST'))!.details.attemptedAction).toBe('AGENT_UPDATED');
    // Nothing of it lands in the other tenant's log.
    expect((await entries(h, '&resourceId=default-agent')).every((e) => e.tenantId === 'default' && e.actor.keyId !== acme.keyId)).toBe(true);
  });

  it('records a failed authentication in the platform tenant, with a fingerprint of the key and never the key', async () => {
    const wrongKey = 'am_wrong.' + 'z'.repeat(40);
    expectProblem(await h.request('GET', '/v1/tasks', { key: wrongKey }), 401, 'unauthorized');
    expectProblem(await h.request('GET', '/v1/tasks', { key: null }), 401, 'unauthorized');
    const failures = await entries(h, '&action=AUTH_FAILURE');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[1]).toMatchObject({ actor: { type: 'anonymous' }, status: 'denied', details: { attempted: 'GET /v1/tasks', keyFingerprint: expect.stringMatching(/^[0-9a-f]{16}$/u) } });
    expect(failures[0]!.details).not.toHaveProperty('keyFingerprint');
    expect(JSON.stringify(failures)).not.toContain('zzzz');
  });

  it("records a key's successful authentication once per interval, not on every read", async () => {
    const reader = await createApiKey(h, 'observer', acme.key, 'reader');
    for (let i = 0; i < 5; i++) expectStatus(await h.request('GET', '/v1/agents', { key: reader.key }), 200);
    const successes = await entries(h, `&action=AUTH_SUCCESS&actorKeyId=${reader.id}`, acme.key);
    expect(successes).toHaveLength(1);
    expect(successes[0]).toMatchObject({ resourceType: 'api_key', resourceId: reader.id, status: 'success' });
  });

  it('lets only admins read the log, each only their own tenant but the platform admin, and records every reading', async () => {
    const orchestrator = await createApiKey(h, 'orchestrator', acme.key);
    expectProblem(await h.request('GET', '/v1/audit', { key: orchestrator.key }), 403, 'forbidden');
    expectProblem(await h.request('GET', '/v1/audit?tenant=default', { key: acme.key }), 404, 'not_found');
    // A tenant that does not exist is a 404 even for the platform admin, and makes no chain.
    expectProblem(await h.request('GET', '/v1/audit?tenant=nope'), 404, 'not_found');
    expectProblem(await h.request('GET', '/v1/audit/verify?tenant=nope'), 404, 'not_found');
    const platformView = await entries(h, '&tenant=acme');
    expect(platformView.length).toBeGreaterThan(0);
    expect(platformView.every((e) => e.tenantId === 'acme')).toBe(true);
    const readings = await entries(h, '&action=AUDIT_LOG_EXPORTED', acme.key);
    expect(readings.length).toBeGreaterThan(0);
    const denied = await entries(h, '&action=UNAUTHORIZED_ACCESS', acme.key);
    expect(denied.some((e) => e.details.attempted === 'GET /v1/audit' && e.actor.keyId === orchestrator.id)).toBe(true);
  });

  it('pages newest first with a cursor, filters by time, and refuses a bad filter with problem+json', async () => {
    const first = expectStatus(await h.request('GET', '/v1/audit?limit=2', { key: acme.key }), 200);
    expect(first.items).toHaveLength(2);
    expect(first.items[0].seq).toBeGreaterThan(first.items[1].seq);
    const second = expectStatus(await h.request('GET', `/v1/audit?limit=2&cursor=${first.nextCursor}`, { key: acme.key }), 200);
    expect(second.items[0].seq).toBeLessThan(first.items[1].seq);
    const future = expectStatus(await h.request('GET', '/v1/audit?from=2999-01-01T00:00:00Z', { key: acme.key }), 200);
    expect(future.items).toEqual([]);
    expect(expectProblem(await h.request('GET', '/v1/audit?action=NOPE', { key: acme.key }), 400, 'validation').field).toBe('querystring.action');
    expect(expectProblem(await h.request('GET', '/v1/audit?from=yesterday', { key: acme.key }), 400, 'validation').field).toBe('querystring.from');
    expectProblem(await h.request('GET', '/v1/audit?cursor=bm9wZQ', { key: acme.key }), 400, 'validation');
  });

  it('links every entry to the one before it, and verifies intact through the API (recorded as COMPLIANCE_CHECK)', async () => {
    const all = (await entries(h, '', acme.key)).reverse();
    for (let i = 1; i < all.length; i++) {
      expect(all[i]!.seq).toBe(all[i - 1]!.seq + 1);
      expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
    }
    await h.running.checkpointer.checkpoint();
    const report = expectStatus(await h.request('GET', '/v1/audit/verify', { key: acme.key }), 200);
    expect(report).toMatchObject({ intact: true, chains: [{ tenantId: 'acme', checkpoints: expect.any(Number) }] });
    expect(report.chains[0].checkpoints).toBeGreaterThan(0);
    const platform = expectStatus(await h.request('GET', '/v1/audit/verify'), 200);
    expect(platform.chains.map((c: any) => c.tenantId).sort()).toEqual(['acme', 'default']);
    expectProblem(await h.request('GET', '/v1/audit/verify?tenant=default', { key: acme.key }), 404, 'not_found');
    const checks = await entries(h, '&action=COMPLIANCE_CHECK', acme.key);
    expect(checks[0]).toMatchObject({ status: 'success', details: { intact: true } });
  });

  it("tells a task's whole story: who submitted and completed it through the API, and what the mesh did on its own", async () => {
    await registerAgent(h, 'story-agent', ['story'], { key: acme.key });
    const id = (await h.request('POST', '/v1/tasks', { key: acme.key, body: { capability: 'story', input: { n: 1 }, leaseMs: 500, maxAttempts: 2 } })).body.id as string;
    // First attempt: taken and left to expire; second: taken and completed.
    expectStatus(await h.request('GET', '/v1/agents/story-agent/tasks/next?waitMs=5000', { key: acme.key }), 200);
    const again = await eventually(async () => {
      const res = await h.request('GET', '/v1/agents/story-agent/tasks/next?waitMs=1000', { key: acme.key });
      return res.status === 200 ? res.body : undefined;
    });
    expect(again.attempt).toBe(2);
    expectStatus(await h.request('POST', `/v1/tasks/${id}/complete`, { key: acme.key, body: { agentId: 'story-agent', output: { ok: true } } }), 200);
    const story = await eventually(async () => {
      const items = (await entries(h, `&resourceId=${id}`, acme.key)).reverse();
      return items.some((e) => e.action === 'TASK_COMPLETED') && items.filter((e) => e.action === 'MESSAGE_DELIVERED').length === 2 ? items : undefined;
    });
    // The mesh's own entries come from its events a moment later: in order among themselves, at the time each happened.
    const system: Entry[] = story.filter((e: Entry) => e.actor.type === 'system');
    expect(system.map((e: Entry) => e.action)).toEqual(['TASK_ASSIGNED', 'MESSAGE_DELIVERED', 'TASK_RETRIED', 'TASK_ASSIGNED', 'MESSAGE_DELIVERED']);
    for (let i = 1; i < system.length; i++) expect(system[i]!.at).toBeGreaterThanOrEqual(system[i - 1]!.at);
    expect(story.filter((e: Entry) => e.actor.type === 'key').map((e: Entry) => `${e.action}/${e.actor.keyId}`)).toEqual([`TASK_SUBMITTED/${acme.keyId}`, `TASK_COMPLETED/${acme.keyId}`]);
    expect(system[0]!.details).toMatchObject({ agentId: 'story-agent', attempt: 1 });
    expect(system[2]!.details).toMatchObject({ attempt: 1, reason: 'lease_expired' });
  });

  it('sets the retention (admins; recorded as CONFIG_CHANGED) and prunes on demand; refuses a bad value', async () => {
    expect(expectStatus(await h.request('GET', '/v1/audit/retention', { key: acme.key }), 200)).toEqual({ days: null });
    expect(expectStatus(await h.request('PUT', '/v1/audit/retention', { key: acme.key, body: { days: 30 } }), 200)).toEqual({ days: 30 });
    expect(expectStatus(await h.request('GET', '/v1/audit/retention', { key: acme.key }), 200)).toEqual({ days: 30 });
    const [changed] = await entries(h, '&action=CONFIG_CHANGED', acme.key);
    expect(changed).toMatchObject({ resourceType: 'audit_retention', details: { from: null, to: 30 } });
    // Nothing is 30 days old yet.
    expect(expectStatus(await h.request('POST', '/v1/audit/prune', { key: acme.key }), 200)).toEqual({ removedEntries: 0, upToSeq: null });
    expect(expectProblem(await h.request('PUT', '/v1/audit/retention', { key: acme.key, body: { days: 0 } }), 400, 'validation').field).toBe('body.days');
    const observer = await createApiKey(h, 'observer', acme.key, 'retention reader');
    expectProblem(await h.request('PUT', '/v1/audit/retention', { key: observer.key, body: { days: 1 } }), 403, 'forbidden');
    expectProblem(await h.request('POST', '/v1/audit/prune', { key: observer.key }), 403, 'forbidden');
    expect(expectStatus(await h.request('PUT', '/v1/audit/retention', { key: acme.key, body: { days: null } }), 200)).toEqual({ days: null });
  });

  it('keeps secrets out of details: the key created is named, its secret is not', async () => {
    const made = await createApiKey(h, 'agent', acme.key, 'worker key', 'worker-1');
    const [entry] = await entries(h, `&action=API_KEY_CREATED&resourceId=${made.id}`, acme.key);
    expect(entry!.details).toEqual({ role: 'agent', name: 'worker key', agentId: 'worker-1' });
    const everything = JSON.stringify(await entries(h, '', acme.key));
    expect(everything).not.toContain(made.key);
    expect(everything).not.toContain(acme.key);
  });
});
