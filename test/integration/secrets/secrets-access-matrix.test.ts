import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectStatus, registerAgent } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

type Role = 'admin' | 'orchestrator' | 'observer' | 'agent';
const ROLES: Role[] = ['admin', 'orchestrator', 'observer', 'agent'];

/**
 * Every secret route, with a key of every role, of the secret's own tenant and of another one:
 * each answer is what the permission table says, and nothing of the other tenant's answers 2xx.
 */
describe('secret routes: every role of both tenants', () => {
  let h: Harness;
  const keys: Record<'acme' | 'globex', Record<Role, string>> = { acme: {} as Record<Role, string>, globex: {} as Record<Role, string> };
  let taskId: string;

  beforeAll(async () => {
    h = await startHarness();
    for (const tenant of ['acme', 'globex'] as const) {
      const { key } = await createTenant(h, tenant);
      keys[tenant].admin = key;
      keys[tenant].orchestrator = (await createApiKey(h, 'orchestrator', key)).key;
      keys[tenant].observer = (await createApiKey(h, 'observer', key)).key;
      keys[tenant].agent = (await createApiKey(h, 'agent', key, 'worker', 'worker-1')).key;
      await registerAgent(h, 'worker-1', ['deploy'], { key: keys[tenant].agent });
      expectStatus(await h.request('PUT', '/v1/secrets/token', { key, body: { value: `${tenant}-value`, policy: { capabilities: ['deploy'] } } }), 201);
    }
    taskId = expectStatus(await h.request('POST', '/v1/tasks', { key: keys.acme.admin, body: { capability: 'deploy', leaseMs: 120_000, secrets: ['token'] } }), 202).id;
    expect(expectStatus(await h.request('GET', '/v1/agents/worker-1/tasks/next?waitMs=5000', { key: keys.acme.agent }), 200).id).toBe(taskId);
  }, 60_000);
  afterAll(async () => h?.close());

  /** Expected status per role for a key of acme (the owner) and of globex (another tenant). */
  const cases: Array<{ name: string; call: () => [string, string, unknown?]; acme: Record<Role, number>; globex: Record<Role, number> }> = [
    { name: 'list', call: () => ['GET', '/v1/secrets'], acme: { admin: 200, orchestrator: 200, observer: 200, agent: 403 }, globex: { admin: 200, orchestrator: 200, observer: 200, agent: 403 } },
    { name: 'metadata', call: () => ['GET', '/v1/secrets/acme-only'], acme: { admin: 200, orchestrator: 200, observer: 200, agent: 403 }, globex: { admin: 404, orchestrator: 404, observer: 404, agent: 403 } },
    { name: 'rotate', call: () => ['POST', '/v1/secrets/acme-only/rotate', { value: 'rotated' }], acme: { admin: 200, orchestrator: 200, observer: 403, agent: 403 }, globex: { admin: 404, orchestrator: 404, observer: 403, agent: 403 } },
    { name: 'write', call: () => ['PUT', '/v1/secrets/acme-only', { value: 'written', policy: { capabilities: ['deploy'] } }], acme: { admin: 200, orchestrator: 200, observer: 403, agent: 403 }, globex: { admin: 201, orchestrator: 200, observer: 403, agent: 403 } },
    { name: 'read value', call: () => ['GET', `/v1/tasks/${taskId}/secrets/token`], acme: { admin: 403, orchestrator: 403, observer: 403, agent: 200 }, globex: { admin: 403, orchestrator: 403, observer: 403, agent: 404 } },
    { name: 'destroy keys (wrong confirm)', call: () => ['POST', '/v1/tenant-keys/destroy', { confirm: 'nobody' }], acme: { admin: 400, orchestrator: 403, observer: 403, agent: 403 }, globex: { admin: 400, orchestrator: 403, observer: 403, agent: 403 } },
    { name: 'delete', call: () => ['DELETE', '/v1/secrets/acme-only'], acme: { admin: 204, orchestrator: 404, observer: 403, agent: 403 }, globex: { admin: 204, orchestrator: 404, observer: 403, agent: 403 } },
  ];

  it('answers each route, role and tenant as the permission table says', async () => {
    expectStatus(await h.request('PUT', '/v1/secrets/acme-only', { key: keys.acme.admin, body: { value: 'acme-only-value', policy: { capabilities: ['deploy'] } } }), 201);
    const got: string[] = [];
    const want: string[] = [];
    for (const c of cases) {
      for (const tenant of ['acme', 'globex'] as const) {
        for (const role of ROLES) {
          const [method, path, body] = c.call();
          const res = await h.request(method, path, { key: keys[tenant][role], ...(body !== undefined && { body }) });
          got.push(`${c.name} ${tenant} ${role} ${res.status}`);
          want.push(`${c.name} ${tenant} ${role} ${c[tenant][role]}`);
          if (tenant === 'globex' && res.status < 300) expect(JSON.stringify(res.body ?? '')).not.toContain('acme-only-value');
        }
      }
    }
    expect(got).toEqual(want);
    // Globex's writes went to globex's own secret of that name: acme's is untouched by them.
    const acmeMeta = expectStatus(await h.request('GET', '/v1/secrets/token', { key: keys.acme.admin }), 200);
    expect(acmeMeta.currentVersion).toBe(1);
  });

  it('records every refusal of the matrix as UNAUTHORIZED_ACCESS in the tenant of the refused key', async () => {
    for (const tenant of ['acme', 'globex'] as const) {
      const denied = expectStatus(await h.request('GET', '/v1/audit?limit=500&action=UNAUTHORIZED_ACCESS', { key: keys[tenant].admin }), 200).items;
      const refusals = cases.flatMap((c) => ROLES.filter((r) => c[tenant][r] === 403 || (c[tenant][r] === 404 && c.name !== 'delete'))).length;
      expect(denied.length).toBeGreaterThanOrEqual(refusals);
      expect(denied.every((e: { status: string }) => e.status === 'denied')).toBe(true);
    }
  });
});
