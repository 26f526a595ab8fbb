import { Counter, Gauge, Registry } from 'prom-client';
import { CACHE_KINDS, type CacheStats, type CacheTier } from '../../application/ports.js';

const TIERS: readonly CacheTier[] = ['l1', 'l2'];

/**
 * The cache's metrics, read from its counts at each scrape. Labels are the tier (l1, l2) and the
 * kind (agent, message, tenant_config, api_key): fixed sets, never a tenant or a key.
 */
export function observeCache(registry: Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>, read: () => CacheStats): void {
  const registers = [registry];
  /** A counter that follows a monotonic count of the cache, per label set. */
  const following = (name: string, help: string, labelNames: string[], counts: (stats: CacheStats) => Array<[Record<string, string>, number]>) => {
    const reported = new Map<string, number>();
    return new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        for (const [labels, count] of counts(read())) {
          const key = JSON.stringify(labels);
          this.inc(labels, Math.max(0, count - (reported.get(key) ?? 0)));
          reported.set(key, count);
        }
      },
    });
  };
  const byTierAndKind = (pick: (stats: CacheStats) => CacheStats['hits']) => (stats: CacheStats) =>
    TIERS.flatMap((tier) => CACHE_KINDS.map((kind): [Record<string, string>, number] => [{ tier, kind }, pick(stats)[tier][kind]]));
  following('agentmesh_cache_hits_total', 'Cache reads answered, by tier (l1: this process, l2: Redis) and kind', ['tier', 'kind'], byTierAndKind((s) => s.hits));
  following('agentmesh_cache_misses_total', 'Cache reads a tier could not answer (an l1 miss goes to l2 when there is one, then to the store)', ['tier', 'kind'], byTierAndKind((s) => s.misses));
  following('agentmesh_cache_evictions_total', "Entries L1 dropped to stay within its bounds (AGENTMESH_CACHE_MAX_ENTRIES, AGENTMESH_CACHE_MAX_BYTES)", ['kind'], (s) =>
    CACHE_KINDS.map((kind) => [{ kind }, s.evictions[kind]]),
  );
  following('agentmesh_cache_l2_errors_total', 'Reads, writes and invalidations of the Redis tier that failed (reads went to the store; invalidations are retried)', [], (s) => [[{}, s.l2Errors]]);
  const gauge = (name: string, help: string, value: (stats: CacheStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(read()));
      },
    });
  gauge('agentmesh_cache_l1_entries', "Entries in this process's cache tier (bounded by AGENTMESH_CACHE_MAX_ENTRIES)", (s) => s.l1Entries);
  gauge('agentmesh_cache_l1_bytes', "Size of this process's cache tier, as the JSON length of its values (bounded by AGENTMESH_CACHE_MAX_BYTES)", (s) => s.l1Bytes);
}
