import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CACHE_KINDS, type CacheKind, type CacheStats, type CacheTier } from '../../application/ports.js';

/** What the metrics read of the cache: its counts at each scrape, and each load as it ends. */
export interface ObservedCache {
  stats(): CacheStats;
  observeLoads(listener: (kind: CacheKind, seconds: number) => void): void;
}

const TIERS: readonly CacheTier[] = ['l1', 'l2'];

/**
 * The cache's metrics, read from its counts at each scrape. Labels are the tier (l1, l2) and the
 * kind (agent, message, tenant_config, api_key): fixed sets, never a tenant or a key.
 */
export function observeCache(registry: Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>, cache: ObservedCache): void {
  const registers = [registry];
  const read = () => cache.stats();
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
  following('agentmesh_cache_stale_served_total', 'Reads answered by an entry past its TTL within its grace period: while one load refreshed it (revalidating), or after that load failed (store_unavailable)', ['kind', 'reason'], (s) =>
    (['revalidating', 'store_unavailable'] as const).flatMap((reason) => CACHE_KINDS.map((kind): [Record<string, string>, number] => [{ kind, reason }, s.staleServed[reason][kind]])),
  );
  following('agentmesh_cache_load_waits_total', "Misses that waited for another instance's load of the key (filled: it reached Redis in time; timed_out: loaded here after the wait)", ['outcome'], (s) => [
    [{ outcome: 'filled' }, s.loadWaits.filled],
    [{ outcome: 'timed_out' }, s.loadWaits.timed_out],
  ]);
  following('agentmesh_cache_invalidations_given_up_total', 'Invalidations the shared tier or the bus missed, given up because 10,000 were waiting to be tried again (the entry still expires with its TTL)', [], (s) => [[{}, s.invalidationRetries.givenUp]]);
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
  new Gauge({
    name: 'agentmesh_cache_hit_rate',
    help: 'Hits / (hits + misses) of each tier and kind over the last minute (sampled every 5 s); no sample when the tier had no read of the kind in that minute',
    labelNames: ['tier', 'kind'],
    registers,
    collect() {
      this.reset();
      const { hitRate } = read();
      for (const tier of TIERS) {
        for (const kind of CACHE_KINDS) {
          const rate = hitRate[tier][kind];
          if (rate !== null) this.set({ tier, kind }, rate);
        }
      }
    },
  });
  const loads = new Histogram({
    name: 'agentmesh_cache_load_seconds',
    help: 'Time to load an entry the cache missed, from the store, by kind',
    labelNames: ['kind'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  cache.observeLoads((kind, seconds) => loads.observe({ kind }, seconds));
  gauge('agentmesh_cache_invalidations_pending', 'Invalidations the shared tier (Redis) or the bus missed, waiting to be tried again every second (bounded at 10,000)', (s) => s.invalidationRetries.pending);
  gauge('agentmesh_cache_l1_entries', "Entries in this process's cache tier (bounded by AGENTMESH_CACHE_MAX_ENTRIES)", (s) => s.l1Entries);
  gauge('agentmesh_cache_l1_bytes', "Size of this process's cache tier, as the JSON length of its values (bounded by AGENTMESH_CACHE_MAX_BYTES)", (s) => s.l1Bytes);
}
