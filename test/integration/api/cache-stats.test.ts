import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

describe('GET /v1/cache/stats', () => {
  let h: Harness;
  let acme: { key: string; keyId: string };

  beforeAll(async () => {
    h = await startHarness();
    acme = await createTenant(h, 'acme');
    // Reads that go through the cache: each tenant's configuration, twice (a miss, then a hit).
    for (let i = 0; i < 2; i++) {
      expectStatus(await h.request('GET', '/v1/tenants/default'), 200);
      expectStatus(await h.request('GET', '/v1/tenants/acme', { key: acme.key }), 200);
    }
  });
  afterAll(() => h?.close());

  it("gives the platform admin this instance's counts, hit rates over the window, and L1's size", async () => {
    const stats = expectStatus(await h.request('GET', '/v1/cache/stats'), 200);
    expect(stats).toMatchObject({ scope: 'instance', tiers: ['l1'], hitRateWindowSeconds: 60, l2Errors: 0, loadWaits: { filled: 0, timed_out: 0 } });
    expect(stats.kinds.agent.staleServed).toEqual({ revalidating: 0, store_unavailable: 0 });
    expect(stats.kinds.tenant_config.ttlSeconds).toBe(3600);
    expect(stats.kinds.tenant_config.hits.l1).toBeGreaterThanOrEqual(2);
    expect(stats.kinds.tenant_config.misses.l1).toBeGreaterThanOrEqual(2);
    expect(stats.kinds.tenant_config.hitRate.l1).toBeGreaterThan(0);
    expect(stats.kinds.tenant_config.hitRate.l1).toBeLessThan(1);
    expect(stats.kinds.tenant_config.hitRate.l2).toBeNull();
    expect(stats.l1.entries).toBeGreaterThanOrEqual(2);
    expect(stats.l1).toMatchObject({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024 });
  });

  it("gives a tenant's admin the setup and its own tenant's entries, no count that mixes in other tenants", async () => {
    const stats = expectStatus(await h.request('GET', '/v1/cache/stats', { key: acme.key }), 200);
    expect(stats.scope).toBe('tenant');
    expect(stats).not.toHaveProperty('l2Errors');
    expect(stats).not.toHaveProperty('hitRateWindowSeconds');
    expect(stats).not.toHaveProperty('loadWaits');
    for (const kind of Object.values(stats.kinds) as Array<Record<string, unknown>>) expect(Object.keys(kind)).toEqual(['ttlSeconds']);
    // acme's tenant entry only: the platform's default tenant and the API keys' entries are not acme's.
    const platform = expectStatus(await h.request('GET', '/v1/cache/stats'), 200);
    expect(stats.l1.entries).toBe(1);
    expect(stats.l1.bytes).toBeGreaterThan(0);
    expect(stats.l1.bytes).toBeLessThan(platform.l1.bytes);
  });

  it('refuses other roles with problem+json, audited as UNAUTHORIZED_ACCESS', async () => {
    const observer = await createApiKey(h, 'observer', acme.key);
    const problem = expectProblem(await h.request('GET', '/v1/cache/stats', { key: observer.key }), 403, 'forbidden');
    expect(problem.detail).toMatch(/observer/);
    const audit = expectStatus(await h.request('GET', `/v1/audit?action=UNAUTHORIZED_ACCESS&actorKeyId=${observer.id}`, { key: acme.key }), 200);
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ status: 'denied', resourceType: 'cache', details: { attempted: 'GET /v1/cache/stats' } });
  });
});
