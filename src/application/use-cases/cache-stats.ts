import { CACHE_KINDS, type CacheKind, type CacheTier } from '../ports.js';
import { CAN_ADMINISTER_CACHE, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import { PLAIN } from '../../domain/plain.js';

interface KindReport {
  ttlSeconds: number;
  hits?: Record<CacheTier, number>;
  misses?: Record<CacheTier, number>;
  hitRate?: Record<CacheTier, number | null>;
  evictions?: number;
  staleServed?: { revalidating: number; store_unavailable: number };
}

export interface CacheStatsReport {
  /** `instance`: every tenant's reads on this instance (the platform admin); `tenant`: the caller's tenant's entries only. */
  scope: 'instance' | 'tenant';
  tiers: CacheTier[];
  hitRateWindowSeconds?: number;
  kinds: Record<CacheKind, KindReport>;
  l1: { entries: number; bytes: number; maxEntries: number; maxBytes: number };
  l2Errors?: number;
  loadWaits?: { filled: number; timed_out: number };
}

/**
 * The cache's figures on this instance. Its counts mix every tenant's reads, so they are the
 * platform admin's alone; a tenant's admin sees the setup (tiers, TTLs, bounds) and its own
 * tenant's entries in memory, nothing that reveals another tenant's activity.
 */
export function cacheStats(ctx: MeshContext, caller: Caller): CacheStatsReport {
  requireRole(caller, CAN_ADMINISTER_CACHE, 'read the cache statistics');
  const profile = ctx.cache.profile();
  const bounds = { maxEntries: profile.maxEntries, maxBytes: profile.maxBytes };
  const ttl = (kind: CacheKind) => ({ ttlSeconds: profile.ttlMs[kind] / 1000 });
  if (!caller.platform) {
    const kinds = Object.fromEntries(CACHE_KINDS.map((kind) => [kind, ttl(kind)])) as Record<CacheKind, KindReport>;
    return { scope: 'tenant', tiers: profile.tiers, kinds, l1: { ...PLAIN, ...ctx.cache.tenantUsage(caller.tenantId), ...bounds } };
  }
  const stats = ctx.cache.stats();
  const byTier = <T>(counts: Record<CacheTier, Record<CacheKind, T>>, kind: CacheKind) => ({ l1: counts.l1[kind], l2: counts.l2[kind] });
  const kinds = Object.fromEntries(
    CACHE_KINDS.map((kind) => [kind, { ...PLAIN, ...ttl(kind), hits: byTier(stats.hits, kind), misses: byTier(stats.misses, kind), hitRate: byTier(stats.hitRate, kind), evictions: stats.evictions[kind], staleServed: { revalidating: stats.staleServed.revalidating[kind], store_unavailable: stats.staleServed.store_unavailable[kind] } }]),
  ) as Record<CacheKind, KindReport>;
  return { scope: 'instance', tiers: profile.tiers, hitRateWindowSeconds: profile.hitRateWindowMs / 1000, kinds, l1: { entries: stats.l1Entries, bytes: stats.l1Bytes, ...bounds }, l2Errors: stats.l2Errors, loadWaits: stats.loadWaits };
}
