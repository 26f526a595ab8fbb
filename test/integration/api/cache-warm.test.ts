import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus, registerAgent } from '../../support/api-helpers.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';

describe('cache warming', () => {
  it('warms at start by default, and not when AGENTMESH_CACHE_WARM_ON_START=off', async () => {
    const on = await startHarness();
    const off = await startHarness({ AGENTMESH_CACHE_WARM_ON_START: 'off' });
    try {
      // The default tenant's configuration and its roster of all agents.
      await eventually(() => on.running.cache.tenantUsage('default').entries >= 2, 5_000, 'the start-up warming');
      await new Promise((r) => setTimeout(r, 200));
      expect(off.running.cache.tenantUsage('default').entries).toBe(0);
    } finally {
      await Promise.all([on.close(), off.close()]);
    }
  });

  describe('POST /v1/cache/warm', () => {
    let h: Harness;
    let acme: { key: string; keyId: string };

    beforeAll(async () => {
      h = await startHarness({ AGENTMESH_CACHE_WARM_ON_START: 'off' });
      acme = await createTenant(h, 'acme');
      await registerAgent(h, 'summarizer-1', ['summarize']);
      await registerAgent(h, 'acme-ocr-1', ['ocr'], { key: acme.key });
    });
    afterAll(() => h?.close());

    it('preloads every tenant for the platform admin: the listings it covers are then hits', async () => {
      const report = expectStatus(await h.request('POST', '/v1/cache/warm'), 200);
      expect(report).toMatchObject({ scope: 'all', tenants: 2, rosters: 4, truncated: false });
      expect(report.durationMs).toBeGreaterThanOrEqual(0);
      const before = h.running.cache.stats();
      expectStatus(await h.request('GET', '/v1/agents?capability=summarize'), 200);
      expectStatus(await h.request('GET', '/v1/agents?capability=ocr', { key: acme.key }), 200);
      const after = h.running.cache.stats();
      expect(after.hits.l1.agent - before.hits.l1.agent).toBe(2);
      expect(after.misses.l1.agent).toBe(before.misses.l1.agent);
    });

    it("a tenant's admin warms its own tenant; another tenant is not found for it, an unknown one for anybody", async () => {
      expect(expectStatus(await h.request('POST', '/v1/cache/warm', { key: acme.key, body: {} }), 200)).toMatchObject({ scope: 'acme', tenants: 1, rosters: 2 });
      expectProblem(await h.request('POST', '/v1/cache/warm', { key: acme.key, body: { tenantId: 'default' } }), 404, 'not_found');
      expectProblem(await h.request('POST', '/v1/cache/warm', { body: { tenantId: 'nobody' } }), 404, 'not_found');
      expect(expectStatus(await h.request('POST', '/v1/cache/warm', { body: { tenantId: 'acme' } }), 200)).toMatchObject({ scope: 'acme', tenants: 1 });
    });

    it('refuses bad input with problem+json naming the field, and other roles with 403', async () => {
      const bad = expectProblem(await h.request('POST', '/v1/cache/warm', { body: { tenantId: 'a b' } }), 400, 'validation');
      expect(bad.detail).toMatch(/tenantId/);
      expectProblem(await h.request('POST', '/v1/cache/warm', { body: { everything: true } }), 400, 'validation');
      expectProblem(await h.request('POST', '/v1/cache/warm', { rawBody: '{', headers: { 'content-type': 'application/json' } }), 400, 'malformed_request');
      const observer = await createApiKey(h, 'observer', acme.key);
      expectProblem(await h.request('POST', '/v1/cache/warm', { key: observer.key }), 403, 'forbidden');
    });

    it('records each call as ADMIN_ACTION in the caller’s tenant, and a refused one as UNAUTHORIZED_ACCESS', async () => {
      const warmsIn = async (key?: string) => {
        const audit = expectStatus(await h.request('GET', '/v1/audit?action=ADMIN_ACTION&limit=50', key !== undefined ? { key } : {}), 200);
        return audit.items.filter((e: any) => e.resourceType === 'cache').map((e: any) => [e.status, e.resourceId ?? null, e.details.change]);
      };
      expect(await warmsIn(acme.key)).toEqual([['success', null, 'warm']]);
      expect(await warmsIn()).toEqual(expect.arrayContaining([['success', null, 'warm'], ['success', 'acme', 'warm']]));
      const denied = expectStatus(await h.request('GET', '/v1/audit?action=UNAUTHORIZED_ACCESS&limit=50', { key: acme.key }), 200);
      const refused = denied.items.filter((e: any) => e.details.attempted === 'POST /v1/cache/warm');
      // Naming another tenant (404), and the observer's 403.
      expect(refused.map((e: any) => [e.actor.role, e.resourceId ?? null, e.details.attemptedAction]).sort()).toEqual([
        ['admin', 'default', 'ADMIN_ACTION'],
        ['observer', null, 'ADMIN_ACTION'],
      ]);
    });
  });
});
