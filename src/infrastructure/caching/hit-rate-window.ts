import { CACHE_KINDS, type CacheKind, type CacheTier } from '../../application/ports.js';

/** The hit rate is over the last minute, from snapshots of the counts taken every 5 s. */
export const HIT_RATE_WINDOW_MS = 60_000;
export const HIT_RATE_STEP_MS = 5_000;

type Counts = Record<CacheTier, Record<CacheKind, number>>;
const TIERS: readonly CacheTier[] = ['l1', 'l2'];

/**
 * A sliding window over monotonic hit and miss counts: a ring of snapshots, one every step, the
 * oldest at most a window old. The rate compares the counts now with the oldest snapshot, so it
 * covers between (window - step) and window of reads; since start until a window has passed.
 */
export class HitRateWindow {
  private readonly ring: Array<{ hits: Counts; misses: Counts }> = [];
  private readonly size = Math.ceil(HIT_RATE_WINDOW_MS / HIT_RATE_STEP_MS);

  /** Records the counts now; called every step. */
  sample(hits: Counts, misses: Counts): void {
    this.ring.push({ hits: copy(hits), misses: copy(misses) });
    if (this.ring.length > this.size) this.ring.shift();
  }

  rates(hits: Counts, misses: Counts): Record<CacheTier, Record<CacheKind, number | null>> {
    const oldest = this.ring[0];
    const rate = (tier: CacheTier, kind: CacheKind) => {
      const h = hits[tier][kind] - (oldest?.hits[tier][kind] ?? 0);
      const m = misses[tier][kind] - (oldest?.misses[tier][kind] ?? 0);
      return h + m === 0 ? null : h / (h + m);
    };
    return Object.fromEntries(TIERS.map((tier) => [tier, Object.fromEntries(CACHE_KINDS.map((kind) => [kind, rate(tier, kind)]))])) as Record<CacheTier, Record<CacheKind, number | null>>;
  }
}

function copy(counts: Counts): Counts {
  return { l1: { ...counts.l1 }, l2: { ...counts.l2 } };
}
