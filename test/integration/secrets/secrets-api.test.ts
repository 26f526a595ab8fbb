import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus, registerAgent } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

type Entry = Record<string, any>;

async function auditOf(h: Harness, key: string, query: string): Promise<Entry[]> {
  return expectStatus(await h.request('GET', `/v1/audit?limit=500${query}`, { key }), 200).items;
}

describe('the secret store API', () => {
  let h: Harness;
  let acme: { key: string; keyId: string };
  let globex: { key: string; keyId: string };
  let orchestrator: { id: string; key: string };
  let observer: { id: string; key: string };
  let worker: { id: string; key: string };
  let otherWorker: { id: string; key: string };
  let globexWorker: { id: string; key: string };

  beforeAll(async () => {
    h = await startHarness();
    acme = await createTenant(h, 'acme');
    globex = await createTenant(h, 'globex');
    orchestrator = await createApiKey(h, 'orchestrator', acme.key, 'ci');
    observer = await createApiKey(h, 'observer', acme.key, 'auditor');
    worker = await createApiKey(h, 'agent', acme.key, 'worker key', 'worker-1');
    otherWorker = await createApiKey(h, 'agent', acme.key, 'other worker key', 'worker-2');
    globexWorker = await createApiKey(h, 'agent', globex.key, 'globex worker key', 'worker-1');
    await registerAgent(h, 'worker-1', ['deploy', 'lint'], { key: worker.key });
    await registerAgent(h, 'worker-2', ['deploy', 'lint'], { key: otherWorker.key });
    await registerAgent(h, 'worker-1', ['deploy'], { key: globexWorker.key });
  }, 60_000);
  afterAll(async () => h?.close());

  /** A task for `agentId` (its only agent for the capability is paused otherwise), taken by it: it holds the lease. */
  async function heldTask(agentKey: string, agentId: string, body: Record<string, unknown>): Promise<{ id: string; secrets?: string[] }> {
    const other = agentId === 'worker-1' ? 'worker-2' : 'worker-1';
    expectStatus(await h.request('POST', `/v1/agents/${other}/pause`, { key: acme.key }), 200);
    try {
      const id = expectStatus(await h.request('POST', '/v1/tasks', { key: orchestrator.key, body: { leaseMs: 60_000, ...body } }), 202).id as string;
      const delivered = expectStatus(await h.request('GET', `/v1/agents/${agentId}/tasks/next?waitMs=5000`, { key: agentKey }), 200);
      expect(delivered.id).toBe(id);
      return delivered;
    } finally {
      expectStatus(await h.request('POST', `/v1/agents/${other}/resume`, { key: acme.key }), 200);
    }
  }

  describe('writing and reading metadata', () => {
    it('creates (201), versions (200) and shows metadata, never the value', async () => {
      const created = expectStatus(
        await h.request('PUT', '/v1/secrets/github-token', { key: orchestrator.key, body: { value: 'ghp_first', policy: { capabilities: ['deploy'] }, description: 'release bot' } }),
        201,
      );
      expect(created).toMatchObject({ name: 'github-token', currentVersion: 1, policy: { capabilities: ['deploy'] }, description: 'release bot', readable: true });
      expect(created.versions).toEqual([{ version: 1, createdAt: expect.any(Number), createdBy: orchestrator.id }]);
      expect(JSON.stringify(created)).not.toContain('ghp_first');
      const updated = expectStatus(await h.request('PUT', '/v1/secrets/github-token', { key: acme.key, body: { value: 'ghp_second', policy: { capabilities: ['deploy'] } } }), 200);
      expect(updated.currentVersion).toBe(2);
      expect(updated.versions.map((v: Entry) => v.version)).toEqual([2, 1]);
      expect(expectStatus(await h.request('GET', '/v1/secrets/github-token', { key: observer.key }), 200).currentVersion).toBe(2);
      const list = expectStatus(await h.request('GET', '/v1/secrets', { key: observer.key }), 200);
      expect(list.items.map((s: Entry) => s.name)).toEqual(['github-token']);
      expect(JSON.stringify(list)).not.toMatch(/ghp_/u);
    });

    it('refuses bad input with problem+json naming the field', async () => {
      const put = (name: string, body: unknown) => h.request('PUT', `/v1/secrets/${name}`, { key: orchestrator.key, body });
      expect(expectProblem(await put('bad%20name', { value: 'x', policy: { capabilities: ['deploy'] } }), 400, 'validation').field).toBe('params.name');
      expect(expectProblem(await put('ok', { value: '', policy: { capabilities: ['deploy'] } }), 400, 'validation').field).toBe('body.value');
      expect(expectProblem(await put('ok', { value: 'x', policy: { capabilities: [] } }), 400, 'validation').field).toBe('body.policy.capabilities');
      expect(expectProblem(await put('ok', { value: 'x', policy: { capabilities: ['has space'] } }), 400, 'validation').field).toMatch(/^body\.policy\.capabilities/u);
      expect(expectProblem(await put('ok', { value: 'x' }), 400, 'validation').field).toBe('body.policy');
      expect(expectProblem(await put('ok', { value: 'x', policy: { capabilities: ['deploy'] }, extra: 1 }), 400, 'validation').detail).toMatch(/extra/u);
      expectProblem(await put('ok', { value: 'é'.repeat(40_000), policy: { capabilities: ['deploy'] } }), 413, 'payload_too_large');
      // The bound is in bytes whatever the characters: one byte past it is the same 413.
      expect(expectProblem(await put('ok', { value: 'x'.repeat(65_537), policy: { capabilities: ['deploy'] } }), 413, 'payload_too_large')).toMatchObject({ limitBytes: 65_536, actualBytes: 65_537 });
      // A lone surrogate would be sealed as U+FFFD and read back changed: refused instead.
      expect(expectProblem(await put('ok', { value: 'v\ud800', policy: { capabilities: ['deploy'] } }), 400, 'validation')).toMatchObject({ field: 'body.value', detail: expect.stringContaining('lone surrogate') });
      // A pair is text like any other.
      expect((await put('emoji', { value: 'v\ud83d\ude00', policy: { capabilities: ['deploy'] } })).status).toBe(201);
      expectProblem(await h.request('POST', '/v1/secrets/nope/rotate', { key: orchestrator.key, body: {} }), 404, 'not_found');
      expectProblem(await h.request('DELETE', '/v1/secrets/nope', { key: orchestrator.key }), 404, 'not_found');
      expectProblem(await h.request('GET', '/v1/secrets/nope', { key: observer.key }), 404, 'not_found');
      expect((await h.request('GET', '/v1/secrets/ok', { key: observer.key })).status).toBe(404);
    });

    it('lets only admins and orchestrators write, and agents see nothing of the list', async () => {
      const body = { value: 'x', policy: { capabilities: ['*'] } };
      expectProblem(await h.request('PUT', '/v1/secrets/by-observer', { key: observer.key, body }), 403, 'forbidden');
      expectProblem(await h.request('PUT', '/v1/secrets/by-agent', { key: worker.key, body }), 403, 'forbidden');
      expectProblem(await h.request('GET', '/v1/secrets', { key: worker.key }), 403, 'forbidden');
      expectProblem(await h.request('DELETE', '/v1/secrets/github-token', { key: observer.key }), 403, 'forbidden');
      expectProblem(await h.request('POST', '/v1/tenant-keys/destroy', { key: orchestrator.key, body: { confirm: 'acme' } }), 403, 'forbidden');
    });

    it("keeps tenants apart: another tenant's admin sees none of it", async () => {
      expect(expectStatus(await h.request('GET', '/v1/secrets', { key: globex.key }), 200).items).toEqual([]);
      expectProblem(await h.request('GET', '/v1/secrets/github-token', { key: globex.key }), 404, 'not_found');
      expectProblem(await h.request('POST', '/v1/secrets/github-token/rotate', { key: globex.key, body: { value: 'hijack' } }), 404, 'not_found');
      expectProblem(await h.request('DELETE', '/v1/secrets/github-token', { key: globex.key }), 404, 'not_found');
      // Globex may have a secret of the same name: its own.
      expectStatus(await h.request('PUT', '/v1/secrets/github-token', { key: globex.key, body: { value: 'globex-value', policy: { capabilities: ['*'] } } }), 201);
      expect(expectStatus(await h.request('GET', '/v1/secrets/github-token', { key: acme.key }), 200).currentVersion).toBe(2);
    });
  });

  describe('an agent reading a secret for its task', () => {
    it('reads the newest value while it holds the lease; the read is audited with version and task, never the value', async () => {
      const task = await heldTask(worker.key, 'worker-1', { capability: 'deploy', input: {}, secrets: ['github-token'] });
      expect(task.secrets).toEqual(['github-token']);
      const res = await h.request('GET', `/v1/tasks/${task.id}/secrets/github-token`, { key: worker.key });
      expect(expectStatus(res, 200)).toEqual({ name: 'github-token', version: 2, value: 'ghp_second' });
      expect(res.headers.get('cache-control')).toBe('no-store');
      const [entry] = await auditOf(h, acme.key, `&action=SECRET_ACCESSED&resourceId=github-token`);
      expect(entry).toMatchObject({ status: 'success', resourceType: 'secret', actor: { keyId: worker.id, agentId: 'worker-1' }, details: { taskId: task.id, version: 2 } });
      expect(JSON.stringify(entry)).not.toContain('ghp_');
      expectStatus(await h.request('POST', `/v1/tasks/${task.id}/complete`, { key: worker.key, body: { agentId: 'worker-1', output: 'ok' } }), 200);
      // The lease is over: so is the access.
      const after = expectProblem(await h.request('GET', `/v1/tasks/${task.id}/secrets/github-token`, { key: worker.key }), 404, 'not_found');
      expect(after.detail).toBe(`secret 'github-token' is not available to this agent for task '${task.id}'`);
    });

    it("a read of another tenant's secret by name is audited naming the secret", async () => {
      expectStatus(await h.request('PUT', '/v1/secrets/acme-only', { key: acme.key, body: { value: 'acme-only-value', policy: { capabilities: ['deploy'] } } }), 201);
      expectProblem(await h.request('GET', '/v1/secrets/acme-only', { key: globex.key }), 404, 'not_found');
      const denied = await auditOf(h, globex.key, '&action=UNAUTHORIZED_ACCESS&resourceType=secret&resourceId=acme-only');
      expect(denied.find((e) => e.details.attempted === 'GET /v1/secrets/:name')).toMatchObject({ status: 'denied', resourceType: 'secret', resourceId: 'acme-only' });
    });

    it('refuses everything else with the same 404, each one audited as UNAUTHORIZED_ACCESS with the reason', async () => {
      expectStatus(await h.request('PUT', '/v1/secrets/lint-only', { key: orchestrator.key, body: { value: 'lint-secret', policy: { capabilities: ['lint'] } } }), 201);
      const task = await heldTask(worker.key, 'worker-1', { capability: 'deploy', input: {}, secrets: ['github-token', 'lint-only', 'never-made'] });
      const attempts: Array<[string, string, string]> = [
        [otherWorker.key, `/v1/tasks/${task.id}/secrets/github-token`, 'the task is not assigned to this agent'],
        [worker.key, `/v1/tasks/${task.id}/secrets/not-listed`, 'the task does not list this secret'],
        [worker.key, `/v1/tasks/${task.id}/secrets/lint-only`, "the secret's policy does not allow capability 'deploy'"],
        [worker.key, `/v1/tasks/${task.id}/secrets/never-made`, 'no such secret'],
        [worker.key, '/v1/tasks/00000000-0000-7000-8000-000000000000/secrets/github-token', 'no such task in the tenant'],
        [globexWorker.key, `/v1/tasks/${task.id}/secrets/github-token`, 'no such task in the tenant'],
      ];
      const bodies = [];
      for (const [key, path] of attempts) bodies.push(expectProblem(await h.request('GET', path, { key }), 404, 'not_found'));
      // Nothing in the answers tells the cases apart beyond the names asked for.
      expect(new Set(bodies.map((b) => Object.keys(b).sort().join()))).toHaveLength(1);
      const acmeDenied = await auditOf(h, acme.key, '&action=UNAUTHORIZED_ACCESS&resourceType=secret');
      const globexDenied = await auditOf(h, globex.key, '&action=UNAUTHORIZED_ACCESS&resourceType=secret');
      const reasons = [...acmeDenied, ...globexDenied].map((e) => e.details.reason);
      for (const [, , reason] of attempts) expect(reasons).toContain(reason);
      const reads = [...acmeDenied, ...globexDenied].filter((e) => e.details.attemptedAction === 'SECRET_ACCESSED');
      expect(reads.length).toBeGreaterThanOrEqual(attempts.length);
      expect(reads.every((e) => e.status === 'denied' && e.details.attempted === 'GET /v1/tasks/:id/secrets/:name')).toBe(true);
      // Admin and orchestrator keys do not read values at all.
      expectProblem(await h.request('GET', `/v1/tasks/${task.id}/secrets/github-token`, { key: acme.key }), 403, 'forbidden');
      expectProblem(await h.request('GET', `/v1/tasks/${task.id}/secrets/github-token`, { key: orchestrator.key }), 403, 'forbidden');
      // The lawful reader still reads.
      expect(expectStatus(await h.request('GET', `/v1/tasks/${task.id}/secrets/github-token`, { key: worker.key }), 200).value).toBe('ghp_second');
      expectStatus(await h.request('POST', `/v1/tasks/${task.id}/complete`, { key: worker.key, body: { agentId: 'worker-1', output: 'ok' } }), 200);
    });

    it('refuses a task naming a malformed secret, or too many', async () => {
      expect(expectProblem(await h.request('POST', '/v1/tasks', { key: orchestrator.key, body: { capability: 'deploy', secrets: ['bad name'] } }), 400, 'validation').field).toMatch(/^body\.secrets/u);
      // No URL can carry '.' or '..' as a path segment: such a secret could never be read.
      for (const dots of ['.', '..']) {
        expect(expectProblem(await h.request('POST', '/v1/tasks', { key: orchestrator.key, body: { capability: 'deploy', secrets: [dots] } }), 400, 'validation').field).toMatch(/^body\.secrets/u);
      }
      expect((await h.request('POST', '/v1/tasks', { key: orchestrator.key, body: { capability: 'deploy', secrets: ['...x', 'a..b'] } })).status).toBe(202);
      const many = Array.from({ length: 17 }, (_, i) => `s${i}`);
      expect(expectProblem(await h.request('POST', '/v1/tasks', { key: orchestrator.key, body: { capability: 'deploy', secrets: many } }), 400, 'validation').field).toBe('body.secrets');
    });
  });

  describe('rotation, deletion and crypto-shredding', () => {
    it('rotates with a given value, or a generated one shown once; readers get the newest', async () => {
      const given = expectStatus(await h.request('POST', '/v1/secrets/github-token/rotate', { key: orchestrator.key, body: { value: 'ghp_third' } }), 200);
      expect(given.currentVersion).toBe(3);
      expect(given.value).toBeUndefined();
      const generated = expectStatus(await h.request('POST', '/v1/secrets/github-token/rotate', { key: orchestrator.key }), 200);
      expect(generated.currentVersion).toBe(4);
      expect(generated.value).toMatch(/^[A-Za-z0-9_-]{43}$/u);
      expect(generated.policy).toEqual({ capabilities: ['deploy'] });
      const task = await heldTask(worker.key, 'worker-1', { capability: 'deploy', input: {}, secrets: ['github-token'] });
      expect(expectStatus(await h.request('GET', `/v1/tasks/${task.id}/secrets/github-token`, { key: worker.key }), 200)).toEqual({ name: 'github-token', version: 4, value: generated.value });
      expectStatus(await h.request('POST', `/v1/tasks/${task.id}/complete`, { key: worker.key, body: { agentId: 'worker-1', output: 'ok' } }), 200);
      const rotations = await auditOf(h, acme.key, '&action=SECRET_ROTATED&resourceId=github-token');
      expect(rotations.map((e) => e.details)).toEqual(expect.arrayContaining([expect.objectContaining({ version: 4, generated: true }), expect.objectContaining({ version: 3, generated: false })]));
      expect(JSON.stringify(rotations)).not.toContain(generated.value);
    });

    it('deletes: the secret is gone for readers; audited as SECRET_REVOKED', async () => {
      expectStatus(await h.request('PUT', '/v1/secrets/short-lived', { key: orchestrator.key, body: { value: 'brief', policy: { capabilities: ['*'] } } }), 201);
      const task = await heldTask(worker.key, 'worker-1', { capability: 'deploy', input: {}, secrets: ['short-lived'] });
      expect((await h.request('DELETE', '/v1/secrets/short-lived', { key: orchestrator.key })).status).toBe(204);
      expectProblem(await h.request('GET', `/v1/tasks/${task.id}/secrets/short-lived`, { key: worker.key }), 404, 'not_found');
      expectStatus(await h.request('POST', `/v1/tasks/${task.id}/complete`, { key: worker.key, body: { agentId: 'worker-1', output: 'ok' } }), 200);
      expect(await auditOf(h, acme.key, '&action=SECRET_REVOKED&resourceId=short-lived')).toHaveLength(1);
    });

    it("destroys the tenant's keys on confirmation: every secret so far is gone for good (410), new ones work", async () => {
      expect(expectProblem(await h.request('POST', '/v1/tenant-keys/destroy', { key: acme.key, body: { confirm: 'globex' } }), 400, 'validation').field).toBe('body.confirm');
      const task = await heldTask(worker.key, 'worker-1', { capability: 'deploy', input: {}, secrets: ['github-token'] });
      const { wrappedKey } = (await h.running.store.tenantKeys.current('acme'))!;
      const tableFiles = () => readdirSync(join(h.dataDir, 'base'), { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
      const holding = () => tableFiles().filter((f) => readFileSync(join(f.parentPath, f.name)).includes(wrappedKey!));
      await h.running.store.db.exec('CHECKPOINT');
      expect(holding().length).toBeGreaterThan(0);
      expect(expectStatus(await h.request('POST', '/v1/tenant-keys/destroy', { key: acme.key, body: { confirm: 'acme' } }), 200)).toEqual({ destroyedKeys: 1 });
      // Not even the row's old version is left in the database's files (the write-ahead log aside).
      await h.running.store.db.exec('CHECKPOINT');
      expect(holding()).toEqual([]);
      expectProblem(await h.request('GET', `/v1/tasks/${task.id}/secrets/github-token`, { key: worker.key }), 410, 'gone');
      expect(expectStatus(await h.request('GET', '/v1/secrets/github-token', { key: acme.key }), 200).readable).toBe(false);
      // Globex's secrets are untouched.
      expect(expectStatus(await h.request('GET', '/v1/secrets/github-token', { key: globex.key }), 200).readable).toBe(true);
      expectStatus(await h.request('PUT', '/v1/secrets/github-token', { key: orchestrator.key, body: { value: 'ghp_after', policy: { capabilities: ['deploy'] } } }), 200);
      expect(expectStatus(await h.request('GET', `/v1/tasks/${task.id}/secrets/github-token`, { key: worker.key }), 200).value).toBe('ghp_after');
      expectStatus(await h.request('POST', `/v1/tasks/${task.id}/complete`, { key: worker.key, body: { agentId: 'worker-1', output: 'ok' } }), 200);
      const [destroyed] = await auditOf(h, acme.key, '&action=TENANT_KEY_DESTROYED');
      expect(destroyed).toMatchObject({ status: 'success', resourceType: 'tenant_key', resourceId: 'acme', details: { destroyedKeys: 1 } });
      const gone = await auditOf(h, acme.key, '&action=SECRET_ACCESSED&status=failure');
      expect(gone[0]!.details).toMatchObject({ httpStatus: 410, taskId: task.id });
    });

    it('counts reads by outcome in agentmesh_secret_access_total, never with a value', async () => {
      const metrics = await (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.adminKey}` } })).text();
      for (const outcome of ['granted', 'denied', 'destroyed']) expect(metrics).toMatch(new RegExp(`agentmesh_secret_access_total\\{tenant="acme",outcome="${outcome}"\\} [1-9]`, 'u'));
      expect(metrics).not.toMatch(/ghp_/u);
    });
  });
});
