import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus, registerAgent, submitTask } from '../../support/api-helpers.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';

/** Requests that stay open (waits for a task, agents' streams and long polls) are bounded, and what happens at the bound is said. */
describe('bounds on requests that stay open', () => {
  let h: Harness;
  let tenant: { key: string };
  const opened: AbortController[] = [];
  beforeAll(async () => {
    // A short heartbeat timeout: an open stream re-checks its key every 200 ms.
    h = await startHarness({ AGENTMESH_MAX_TASK_WAITS_PER_TENANT: '2', AGENTMESH_MAX_INBOX_CONNECTIONS_PER_AGENT: '2', AGENTMESH_HEARTBEAT_TIMEOUT_MS: '600' });
    tenant = await createTenant(h, 'bounded');
  }, 60_000);
  afterAll(async () => {
    for (const c of opened) c.abort();
    await h?.close();
  });

  /** A request left open; `abort` hangs it up. */
  function open(path: string, key: string) {
    const controller = new AbortController();
    opened.push(controller);
    const response = fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
    response.catch(() => {});
    return { response, abort: () => controller.abort() };
  }

  const metric = async (name: string) => {
    const text = await (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.adminKey}` } })).text();
    return Number(new RegExp(`^${name}\\{tenant="bounded"\\} (\\S+)$`, 'mu').exec(text)?.[1] ?? 0);
  };
  const waiters = () => h.running.mesh.ctx.waiters.count;

  it("refuses a tenant's wait for a task past its bound (429, Retry-After), not another tenant's, and frees a place when a caller hangs up", async () => {
    const id = await submitTask(h, { capability: 'nobody-has-this' }, { key: tenant.key });
    const first = open(`/v1/tasks/${id}?waitMs=30000`, tenant.key);
    open(`/v1/tasks/${id}?waitMs=30000`, tenant.key);
    await eventually(() => waiters() === 2, 5000, 'two waits open');

    const refused = await h.request('GET', `/v1/tasks/${id}?waitMs=30000`, { key: tenant.key });
    expect(refused.headers.get('retry-after')).toBe('1');
    const problem = expectProblem(refused, 429, 'quota_exceeded');
    expect(problem).toMatchObject({ quota: 'maxTaskWaitsPerTenant', limit: 2 });
    expect(problem.detail).toBe("tenant 'bounded' has 2 requests waiting for tasks to settle on this instance");
    expect(await metric('agentmesh_task_waits_refused_total')).toBe(1);
    // A read without a wait is not a wait: still answered.
    expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`, { key: tenant.key }), 200).status).toBe('queued');

    const other = await createTenant(h, 'bounded-other');
    const otherId = await submitTask(h, { capability: 'nobody-has-this' }, { key: other.key });
    expect(expectStatus(await h.request('GET', `/v1/tasks/${otherId}?waitMs=50`, { key: other.key }), 200).id).toBe(otherId);

    first.abort();
    await eventually(() => waiters() === 1, 5000, 'the hung-up wait to leave');
    expect(expectStatus(await h.request('GET', `/v1/tasks/${id}?waitMs=50`, { key: tenant.key }), 200).id).toBe(id);
  });

  it("ends an agent's oldest stream or long poll when it opens one past its bound, and counts it", async () => {
    await registerAgent(h, 'inbox-agent', ['inbox-work'], { key: tenant.key });
    const path = '/v1/agents/inbox-agent';
    const streamOpened = async (connection: ReturnType<typeof open>) => {
      const response = await connection.response;
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain(': connected');
      return reader;
    };
    const ended = async (reader: ReadableStreamDefaultReader<Uint8Array>) => {
      for (;;) if ((await reader.read()).done) return true;
    };

    const s1 = await streamOpened(open(`${path}/stream`, tenant.key));
    const s2 = await streamOpened(open(`${path}/stream`, tenant.key));
    expect(await metric('agentmesh_agent_inbox_connections')).toBe(2);
    const s3 = await streamOpened(open(`${path}/stream`, tenant.key));
    expect(await ended(s1)).toBe(true);

    // A long poll takes its place the same way, and is itself ended (204 at once) by a newer one.
    const started = Date.now();
    const poll = open(`${path}/tasks/next?waitMs=30000`, tenant.key);
    expect(await ended(s2)).toBe(true);
    open(`${path}/tasks/next?waitMs=30000`, tenant.key);
    expect(await ended(s3)).toBe(true);
    open(`${path}/tasks/next?waitMs=30000`, tenant.key);
    expect((await poll.response).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(10_000);

    expect(await metric('agentmesh_agent_inbox_connections_displaced_total')).toBe(4);
    expect(await metric('agentmesh_agent_inbox_connections')).toBe(2);

    // A key that may not act as this agent is refused (403) before its poll counts: it ends none of the agent's.
    await registerAgent(h, 'other-agent', ['inbox-work'], { key: tenant.key });
    const otherKey = await createApiKey(h, 'agent', tenant.key, 'other agent key', 'other-agent');
    expectProblem(await h.request('GET', `${path}/tasks/next?waitMs=1000`, { key: otherKey.key }), 403, 'forbidden');
    expect(await metric('agentmesh_agent_inbox_connections_displaced_total')).toBe(4);

    for (const c of opened) c.abort();
    await eventually(async () => (await metric('agentmesh_agent_inbox_connections')) === 0, 5000, 'every inbox connection to be released');
  });

  it('audits the refusal that ends an open stream (its key revoked) like a refusal answered', async () => {
    await registerAgent(h, 'revoked-agent', ['inbox-work'], { key: tenant.key });
    const agentKey = await createApiKey(h, 'agent', tenant.key, 'soon revoked agent key', 'revoked-agent');
    const stream = open('/v1/agents/revoked-agent/stream', agentKey.key);
    const response = await stream.response;
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain(': connected');
    expect((await h.request('DELETE', `/v1/api-keys/${agentKey.id}`, { key: tenant.key })).status).toBe(204);
    while (!(await reader.read()).done);
    const entry = await eventually(
      async () =>
        expectStatus(await h.request('GET', '/v1/audit?action=AUTH_FAILURE', { key: tenant.key }), 200).items.find(
          (e: { actor: { keyId?: string }; details: { attempted: string } }) => e.actor.keyId === agentKey.id && e.details.attempted === 'GET /v1/agents/:id/stream',
        ),
      5000,
      'the refusal to be audited',
    );
    expect(entry).toMatchObject({ status: 'denied', resourceType: 'api_key' });
  });
});
