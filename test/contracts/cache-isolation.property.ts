import fc from 'fast-check';
import { it } from 'vitest';
import { cacheKey, KEY_LOOKUP_SCOPE } from '../../src/application/cache-keys.js';
import type { Cache, CacheKind } from '../../src/application/ports.js';

/**
 * Few tenants, kinds and ids, chosen to run into each other if keys were joined naively
 * (`xyz` + `agent:x` against `xyz:agent` + `x`), with braces, percent signs, the epoch suffix and
 * the key-lookup scope: a small pool, so that every run reads the same keys many times.
 */
const TENANTS = ['xyz', 'xyz:agent', 'xyz:agent:agent', KEY_LOOKUP_SCOPE];
const KINDS: CacheKind[] = ['agent', 'api_key'];
const IDS = ['x', 'agent:x', 'agent:agent:x', '{xyz}', '%7Bxyz%7D', '#e', 'ключ'];

type Op = { type: 'read' | 'write' | 'writeKind'; on: number; tenant: string; kind: CacheKind; id: string };

/**
 * A property over any cache: whatever the interleaving of reads, writes (the store changes, then
 * the entry is deleted) and kind-wide deletes, on any of the instances, a read answers the
 * entry of its own tenant, kind and id, and never one older than the last write whose delete
 * this instance finished before the read began.
 */
export function cacheIsolationProperty(name: string, instances: () => Promise<Cache[]>, numRuns = 40): void {
  it(`${name}: a cached read never returns another tenant's data, nor data older than an invalidation before it`, async () => {
    const op = fc.record<Op>({
      type: fc.constantFrom('read', 'read', 'read', 'write', 'writeKind'),
      on: fc.nat(1),
      tenant: fc.constantFrom(...TENANTS),
      kind: fc.constantFrom(...KINDS),
      id: fc.constantFrom(...IDS),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }), fc.nat(3), async (batches, delayMs) => {
        const caches = await instances();
        const on = (i: number) => caches[i % caches.length]!;
        /** The store: each entry's version, and the version each instance has finished invalidating. */
        const versions = new Map<string, number>();
        const invalidated = new Map<string, number>();
        const k = (tenant: string, kind: string, id: string) => JSON.stringify([tenant, kind, id]);
        const version = (tenant: string, kind: string, id: string) => versions.get(k(tenant, kind, id)) ?? 0;
        try {
          // Each batch runs concurrently; the batches one after another.
          for (const batch of batches) {
            await Promise.all(
              batch.map(async ({ type, on: i, tenant, kind, id }) => {
                const cache = on(i);
                if (type === 'read') {
                  const floor = invalidated.get(`${i % caches.length}:${k(tenant, kind, id)}`) ?? 0;
                  const value = (await cache.getOrLoad(cacheKey(tenant, kind, id), async () => {
                    const seen = version(tenant, kind, id);
                    await new Promise((r) => setTimeout(r, delayMs));
                    return { tenant, kind, id, version: seen };
                  })) as { tenant: string; kind: string; id: string; version: number };
                  if (value.tenant !== tenant || value.kind !== kind || value.id !== id) throw new Error(`read of ${k(tenant, kind, id)} answered ${JSON.stringify(value)}`);
                  if (value.version < floor) throw new Error(`read of ${k(tenant, kind, id)} answered version ${value.version} after version ${floor} was invalidated`);
                  return;
                }
                const changed = type === 'write' ? [id] : IDS;
                for (const each of changed) versions.set(k(tenant, kind, each), version(tenant, kind, each) + 1);
                const now = new Map(changed.map((each) => [each, version(tenant, kind, each)]));
                if (type === 'write') await cache.delete(cacheKey(tenant, kind, id));
                else await cache.deleteKind(tenant, kind);
                for (const [each, v] of now) invalidated.set(`${i % caches.length}:${k(tenant, kind, each)}`, v);
              }),
            );
          }
        } finally {
          await Promise.all(caches.map((c) => c.close()));
        }
      }),
      { numRuns },
    );
  }, 120_000);
}
