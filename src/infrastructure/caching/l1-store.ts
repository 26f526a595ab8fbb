import { LRUCache } from 'lru-cache';
import { CACHE_KINDS, type CacheKind } from '../../application/ports.js';
import { PLAIN } from '../../domain/plain.js';

export interface L1Bounds {
  /** Entries at most; the least recently used goes first. */
  maxEntries: number;
  /** Bytes at most, as the JSON length of the values; a value larger than this is not kept. */
  maxBytes: number;
}

export interface L1Entry {
  value: unknown;
  kind: CacheKind;
}

/** An entry as kept: fresh until `freshUntil` (performance.now() time), then stale for its grace period. */
export interface KeptEntry extends L1Entry {
  bytes: number;
  freshUntil: number;
  /** The last load that tried to refresh this stale entry failed (the store is down). */
  refreshFailed?: boolean;
}

/** Per kind, all at 0. */
export const perKind = (): Record<CacheKind, number> => Object.fromEntries(CACHE_KINDS.map((k) => [k, 0])) as Record<CacheKind, number>;

/** This process's tier: an LRU (lru-cache) bounded by entries and bytes, each entry with its own TTL. */
export class L1Store {
  private readonly lru: LRUCache<string, KeptEntry>;
  /** Entries dropped to stay within the bounds, per kind. */
  readonly evictions = perKind();

  constructor(readonly bounds: L1Bounds) {
    this.lru = new LRUCache({
      max: bounds.maxEntries,
      maxSize: bounds.maxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
      dispose: (entry, _key, reason) => {
        if (reason === 'evict') this.evictions[entry.kind]++;
      },
    });
  }

  get(encoded: string): KeptEntry | undefined {
    return this.lru.get(encoded);
  }

  /** `bytes`: the value's JSON length. Fresh for `ttlMs`, then kept `graceMs` more as a stale entry. */
  set(encoded: string, entry: L1Entry, bytes: number, ttlMs: number, graceMs = 0): void {
    if (ttlMs <= 0 || bytes > this.bounds.maxBytes) return;
    this.lru.set(encoded, { ...PLAIN, ...entry, bytes, freshUntil: performance.now() + ttlMs }, { ttl: ttlMs + graceMs });
  }

  delete(encoded: string): void {
    this.lru.delete(encoded);
  }

  /** Drops every entry whose key starts with `prefix` (a tenant's kind); rare, so a scan is fine. */
  deletePrefix(prefix: string): void {
    for (const key of [...this.lru.keys()]) if (key.startsWith(prefix)) this.lru.delete(key);
  }

  /** Entries and bytes of the keys that start with `prefix` (a tenant's); a scan, for an admin's question. */
  usage(prefix: string): { entries: number; bytes: number } {
    let entries = 0;
    let bytes = 0;
    for (const [key, entry] of this.lru.entries()) {
      if (!key.startsWith(prefix)) continue;
      entries++;
      bytes += Math.max(1, entry.bytes);
    }
    return { entries, bytes };
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
