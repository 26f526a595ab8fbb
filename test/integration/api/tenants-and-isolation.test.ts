import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus, registerAgent, submitTask, waitForTaskStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

describe('tenants, API keys and tenant isolation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(async () => h?.close());

  describe('POST /v1/tenants', () => {
    it('answers 201 with the tenant and its first admin key, whose secret is shown once', async () => {
      const res = await h.request('POST', '/v1/tenants', { body: { id: 'acme', name: 'Acme Corp', quotas: { maxAgents: 7 } } });
      const body = expectStatus(res, 201);
      expect(body.tenant).toEqual({ id: 'acme', name: 'Acme Corp', quotas: { maxAgents: 7, maxTasksPerHour: expect.any(Number) }, createdAt: expect.any(Number) });
      expect(body.tenant.quotas.maxTasksPerHour).toBeGreaterThan(0);
      expect(body.apiKey).toEqual({ id: expect.any(String), name: expect.any(String), role: 'admin', createdAt: expect.any(Number), key: expect.stringMatching(/^am_/) });

      // The key works, in its own tenant.
      const tenant = expectStatus(await h.request('GET', '/v1/tenants/acme', { key: body.apiKey.key }), 200);
      expect(tenant).toEqual(body.tenant);

      // Listing keys never returns a secret.
      const listed = expectStatus(await h.request('GET', '/v1/api-keys', { key: body.apiKey.key }), 200);
      expect(listed.items).toHaveLength(1);
      expect(listed.items[0].id).toBe(body.apiKey.id);
      expect(listed.items[0].role).toBe('admin');
      for (const item of listed.items) {
        expect(Object.keys(item).sort()).toEqual(expect.arrayContaining(['createdAt', 'id', 'name', 'role']));
        expect(item).not.toHaveProperty('key');
        expect(item).not.toHaveProperty('secret');
        expect(item).not.toHaveProperty('secretHash');
      }
      expect(JSON.stringify(listed)).not.toContain(body.apiKey.key.split('.')[1]);
    });

    it('answers 409 for a tenant id that exists', async () => {
      await createTenant(h, 'dup-tenant');
      const problem = expectProblem(await h.request('POST', '/v1/tenants', { body: { id: 'dup-tenant' } }), 409, 'conflict');
      expect(problem.detail).toContain('dup-tenant');
      expectProblem(await h.request('POST', '/v1/tenants', { body: { id: 'default' } }), 409, 'conflict');
    });

    it('validates the body', async () => {
      expectProblem(await h.request('POST', '/v1/tenants', { body: { id: 'x' } }), 400, 'validation');
      expect(expectProblem(await h.request('POST', '/v1/tenants', { body: { id: 'q-tenant', quotas: { maxAgents: 0 } } }), 400, 'validation').field).toBe('body.quotas.maxAgents');
      expect(expectProblem(await h.request('POST', '/v1/tenants', { body: { id: 'q-tenant', plan: 'gold' } }), 400, 'validation').field).toBe('body.plan');
    });
  });

  describe('GET /v1/tenants/{id}', () => {
    it('shows the own tenant, hides other tenants as 404', async () => {
      const one = await createTenant(h, 'tenant-one');
      await createTenant(h, 'tenant-two');
      expect(expectStatus(await h.request('GET', '/v1/tenants/tenant-one', { key: one.key }), 200).id).toBe('tenant-one');
      const problem = expectProblem(await h.request('GET', '/v1/tenants/tenant-two', { key: one.key }), 404, 'not_found');
      expect(problem.detail).toContain('tenant-two');
      // Unknown and foreign tenants look the same.
      expectProblem(await h.request('GET', '/v1/tenants/no-such-tenant', { key: one.key }), 404, 'not_found');
    });

    it("refuses an agent key its own tenant with 403 naming the role, the action and the roles allowed", async () => {
      const own = await createTenant(h, 'tenant-agent-read');
      const agentKey = (await createApiKey(h, 'agent', own.key, 'reader', 'reader-agent')).key;
      const problem = expectProblem(await h.request('GET', '/v1/tenants/tenant-agent-read', { key: agentKey }), 403, 'forbidden');
      expect(problem).toMatchObject({ role: 'agent', action: 'read tenants', allowed: ['admin', 'orchestrator', 'observer'] });
      const observerKey = (await createApiKey(h, 'observer', own.key)).key;
      expect(expectStatus(await h.request('GET', '/v1/tenants/tenant-agent-read', { key: observerKey }), 200).id).toBe('tenant-agent-read');
    });

    it('the platform admin sees any tenant', async () => {
      await createTenant(h, 'tenant-three');
      expect(expectStatus(await h.request('GET', '/v1/tenants/tenant-three'), 200).id).toBe('tenant-three');
      expect(expectStatus(await h.request('GET', '/v1/tenants/default'), 200).id).toBe('default');
      expectProblem(await h.request('GET', '/v1/tenants/no-such-tenant'), 404, 'not_found');
    });
  });

  describe('API keys', () => {
    it('a key of each role can be created, authenticates, and acts in its tenant', async () => {
      const { key: admin } = await createTenant(h, 'roles-tenant');
      const keys: Record<string, { id: string; key: string; body: any }> = {};
      for (const role of ['admin', 'orchestrator', 'agent', 'observer']) {
        const created = await createApiKey(h, role, admin, `${role} key`, role === 'agent' ? 'roles-agent' : undefined);
        expect(created.body).toEqual({ id: expect.any(String), name: `${role} key`, role, ...(role === 'agent' && { agentId: 'roles-agent' }), createdAt: expect.any(Number), key: expect.stringMatching(/^am_/) });
        keys[role] = created;
        // Every role reads.
        expectStatus(await h.request('GET', '/v1/tasks', { key: created.key }), 200);
        expectStatus(await h.request('GET', '/v1/agents', { key: created.key }), 200);
      }
      const secrets = new Set(Object.values(keys).map((k) => k.key));
      expect(secrets.size).toBe(4);

      // What each role is for.
      expectStatus(await h.request('GET', '/v1/api-keys', { key: keys.admin!.key }), 200);
      const submitted = await submitTask(h, { capability: 'roles-cap' }, { key: keys.orchestrator!.key });
      const agent = await registerAgent(h, 'roles-agent', ['roles-other'], { key: keys.agent!.key });
      expect(agent.tenantId).toBe('roles-tenant');
      const task = expectStatus(await h.request('GET', `/v1/tasks/${submitted}`, { key: keys.observer!.key }), 200);
      expect(task.tenantId).toBe('roles-tenant');

      // The admin's list shows all five keys (first admin + 4), without secrets.
      const listed = expectStatus(await h.request('GET', '/v1/api-keys', { key: admin }), 200);
      expect(listed.items.map((k: { role: string }) => k.role).sort()).toEqual(['admin', 'admin', 'agent', 'observer', 'orchestrator']);
      const text = JSON.stringify(listed);
      for (const secret of secrets) expect(text).not.toContain(secret);
      for (const item of listed.items) expect(item).not.toHaveProperty('key');
    });

    it('rejects an unknown role', async () => {
      const problem = expectProblem(await h.request('POST', '/v1/api-keys', { body: { name: 'k', role: 'superuser' } }), 400, 'validation');
      expect(problem.field).toBe('body.role');
    });
  });

  describe('isolation between tenants', () => {
    let a: { key: string; keyId: string };
    let b: { key: string; keyId: string };
    let assignedId: string;
    let queuedId: string;

    beforeAll(async () => {
      a = await createTenant(h, 'iso-a');
      b = await createTenant(h, 'iso-b');
      await registerAgent(h, 'a-worker', ['shared'], { key: a.key, maxConcurrentTasks: 1 });
      assignedId = await submitTask(h, { capability: 'shared', input: { secret: 'of A' } }, { key: a.key });
      await waitForTaskStatus(h, assignedId, 'assigned', a.key);
      queuedId = await submitTask(h, { capability: 'a-only' }, { key: a.key });
    });

    it("B's lists show none of A's agents or tasks", async () => {
      await registerAgent(h, 'b-lister', ['b-cap'], { key: b.key });
      await submitTask(h, { capability: 'b-cap-unserved' }, { key: b.key });

      const agents = expectStatus(await h.request('GET', '/v1/agents?limit=500', { key: b.key }), 200);
      expect(agents.items.length).toBeGreaterThan(0);
      expect(agents.items.every((x: { tenantId: string }) => x.tenantId === 'iso-b')).toBe(true);
      expect(agents.items.map((x: { id: string }) => x.id)).not.toContain('a-worker');
      const byCapability = expectStatus(await h.request('GET', '/v1/agents?capability=shared', { key: b.key }), 200);
      expect(byCapability.items).toEqual([]);

      const tasks = expectStatus(await h.request('GET', '/v1/tasks?limit=500', { key: b.key }), 200);
      expect(tasks.items.length).toBeGreaterThan(0);
      expect(tasks.items.every((x: { tenantId: string }) => x.tenantId === 'iso-b')).toBe(true);
      const ids = tasks.items.map((x: { id: string }) => x.id);
      expect(ids).not.toContain(assignedId);
      expect(ids).not.toContain(queuedId);
      expect(expectStatus(await h.request('GET', '/v1/tasks?agentId=a-worker', { key: b.key }), 200).items).toEqual([]);
      expect(expectStatus(await h.request('GET', '/v1/tasks?capability=shared', { key: b.key }), 200).items).toEqual([]);
      expect(expectStatus(await h.request('GET', '/v1/dead-letters', { key: b.key }), 200).items).toEqual([]);
    });

    it("B acting on A's task ids gets 404, not 403, and A's task is untouched", async () => {
      const calls: Array<[string, string, unknown?]> = [
        ['GET', `/v1/tasks/${assignedId}`],
        ['GET', `/v1/tasks/${assignedId}?waitMs=50`],
        ['POST', `/v1/tasks/${assignedId}/complete`, { agentId: 'a-worker', output: 'forged' }],
        ['POST', `/v1/tasks/${assignedId}/fail`, { agentId: 'a-worker', error: 'forged', retryable: false }],
        ['POST', `/v1/tasks/${assignedId}/extend`, { agentId: 'a-worker', leaseMs: 60_000 }],
        ['POST', `/v1/tasks/${assignedId}/cancel`],
        ['POST', `/v1/tasks/${queuedId}/cancel`],
        ['POST', `/v1/dead-letters/${queuedId}/requeue`],
      ];
      for (const [method, path, body] of calls) {
        const res = await h.request(method, path, { key: b.key, ...(body !== undefined && { body }) });
        expectProblem(res, 404, 'not_found');
      }
      const assigned = expectStatus(await h.request('GET', `/v1/tasks/${assignedId}`, { key: a.key }), 200);
      expect(assigned.status).toBe('assigned');
      expect(assigned.agentId).toBe('a-worker');
      expect(assigned).not.toHaveProperty('output');
      expect(expectStatus(await h.request('GET', `/v1/tasks/${queuedId}`, { key: a.key }), 200).status).toBe('queued');
    });

    it("B acting on A's agent ids gets 404, not 403, and A's agent is untouched", async () => {
      const calls: Array<[string, string]> = [
        ['GET', '/v1/agents/a-worker'],
        ['POST', '/v1/agents/a-worker/heartbeat'],
        ['POST', '/v1/agents/a-worker/pause'],
        ['POST', '/v1/agents/a-worker/resume'],
        ['DELETE', '/v1/agents/a-worker'],
        ['GET', '/v1/agents/a-worker/tasks/next?waitMs=0'],
        ['GET', '/v1/agents/a-worker/stream'],
      ];
      for (const [method, path] of calls) expectProblem(await h.request(method, path, { key: b.key }), 404, 'not_found');
      const agent = expectStatus(await h.request('GET', '/v1/agents/a-worker', { key: a.key }), 200);
      expect(['available', 'busy']).toContain(agent.status);
    });

    it("B cannot revoke A's API key", async () => {
      expectProblem(await h.request('DELETE', `/v1/api-keys/${a.keyId}`, { key: b.key }), 404, 'not_found');
      expectStatus(await h.request('GET', '/v1/tasks', { key: a.key }), 200);
    });

    it("B's agent never receives A's tasks", async () => {
      await registerAgent(h, 'b-worker', ['a-only', 'shared'], { key: b.key, maxConcurrentTasks: 4 });
      const none = await h.request('GET', '/v1/agents/b-worker/tasks/next?waitMs=500', { key: b.key });
      expect(none.status).toBe(204);
      const queued = expectStatus(await h.request('GET', `/v1/tasks/${queuedId}`, { key: a.key }), 200);
      expect(queued.status).toBe('queued');
      expect(queued).not.toHaveProperty('agentId');
      expect(expectStatus(await h.request('GET', '/v1/agents/b-worker', { key: b.key }), 200).assignedCount).toBe(0);

      // The same worker does receive its own tenant's task.
      const own = await submitTask(h, { capability: 'a-only', input: 'for B' }, { key: b.key });
      const delivered = expectStatus(await h.request('GET', '/v1/agents/b-worker/tasks/next?waitMs=5000', { key: b.key }), 200);
      expect(delivered.id).toBe(own);
    });

    it('agent ids and idempotency keys are per tenant', async () => {
      await registerAgent(h, 'same-name-agent', ['x'], { key: a.key });
      const twin = await registerAgent(h, 'same-name-agent', ['x'], { key: b.key });
      expect(twin.tenantId).toBe('iso-b');

      const first = await h.request('POST', '/v1/tasks', { key: a.key, body: { capability: 'idem', input: 'A' }, headers: { 'idempotency-key': 'shared-key' } });
      expect(first.status).toBe(202);
      const second = await h.request('POST', '/v1/tasks', { key: b.key, body: { capability: 'idem', input: 'B' }, headers: { 'idempotency-key': 'shared-key' } });
      expect(second.status).toBe(202);
      expect(second.body.created).toBe(true);
      expect(second.body.id).not.toBe(first.body.id);
      expect(expectStatus(await h.request('GET', `/v1/tasks/${second.body.id}`, { key: b.key }), 200).input).toBe('B');
    });
  });
});
