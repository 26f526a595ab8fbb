import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../../../src/application/cache-keys.js';
import { TieredCache } from '../../../../src/infrastructure/caching/tiered-cache.js';
import { AgentMeshMetrics } from '../../../../src/infrastructure/observability/metrics.js';

describe('cache metrics', () => {
  it('counts hits and misses by tier and kind, evictions, and L1 size, with no tenant or key in labels', async () => {
    const cache = new TieredCache({ ttlsMs: { agent: 60_000, message: 60_000, tenant_config: 60_000, api_key: 60_000, skill_result: 60_000 }, l1: { maxEntries: 2, maxBytes: 1024 * 1024 } });
    const metrics = new AgentMeshMetrics();
    metrics.observeCache(cache);
    for (const tenant of ['acme', 'globex', 'initech']) await cache.getOrLoad(cacheKey(tenant, 'tenant_config', tenant), async () => ({ tenant }));
    await cache.getOrLoad(cacheKey('initech', 'tenant_config', 'initech'), async () => ({ tenant: 'again' }));
    const first = (await metrics.scrape()).body;
    expect(first).toMatch(/agentmesh_cache_misses_total\{tier="l1",kind="tenant_config"\} 3/);
    expect(first).toMatch(/agentmesh_cache_hits_total\{tier="l1",kind="tenant_config"\} 1/);
    expect(first).toMatch(/agentmesh_cache_hits_total\{tier="l2",kind="api_key"\} 0/);
    expect(first).toMatch(/agentmesh_cache_evictions_total\{kind="tenant_config"\} 1/);
    expect(first).toMatch(/agentmesh_cache_l1_entries 2/);
    expect(first).toMatch(/agentmesh_cache_l1_bytes \d+/);
    expect(first).not.toMatch(/acme|globex|initech/);
    // Within the first minute the window covers every read since start: 1 hit of 4 reads.
    expect(first).toMatch(/agentmesh_cache_hit_rate\{tier="l1",kind="tenant_config"\} 0.25/);
    // No read of a kind: no sample, rather than a rate of 0 that would read as "every read missed".
    expect(first).not.toMatch(/agentmesh_cache_hit_rate\{tier="l1",kind="agent"\}/);
    expect(first).toMatch(/agentmesh_cache_load_seconds_count\{kind="tenant_config"\} 3/);
    expect(first).toMatch(/agentmesh_cache_load_seconds_bucket\{le="\+Inf",kind="tenant_config"\} 3/);
    expect(first).toMatch(/agentmesh_cache_stale_served_total\{kind="tenant_config",reason="revalidating"\} 0/);
    expect(first).toMatch(/agentmesh_cache_stale_served_total\{kind="agent",reason="store_unavailable"\} 0/);
    expect(first).toMatch(/agentmesh_cache_load_waits_total\{outcome="timed_out"\} 0/);
    expect(first).toMatch(/agentmesh_cache_invalidations_pending 0/);
    expect(first).toMatch(/agentmesh_cache_invalidations_given_up_total 0/);
    // A second scrape adds only what happened since the first.
    await cache.getOrLoad(cacheKey('initech', 'tenant_config', 'initech'), async () => ({ tenant: 'again' }));
    expect((await metrics.scrape()).body).toMatch(/agentmesh_cache_hits_total\{tier="l1",kind="tenant_config"\} 2/);
  });
});
