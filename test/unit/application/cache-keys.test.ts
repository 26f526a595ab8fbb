import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiKeyCacheKey, cacheKey, KEY_LOOKUP_SCOPE, kindPrefix, skillResultCacheKey, tenantCacheKey } from '../../../src/application/cache-keys.js';
import { CACHE_KINDS, type CacheKind } from '../../../src/application/ports.js';

const tenantId = fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{3,24}$/u), fc.constantFrom('xyz', 'xyz:agent', 'xyz:agent:x', KEY_LOOKUP_SCOPE));
const kind = fc.constantFrom<CacheKind>(...CACHE_KINDS);
const id = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('x', 'agent:x', '{xyz}', '}', '%7D', '#e', 'x#e'));

describe('cache keys', () => {
  it('carry the tenant, checked: not an identifier, no key (the key-lookup scope aside)', () => {
    expect(cacheKey('acme', 'agent', 'a1')).toMatchObject({ tenantId: 'acme', kind: 'agent', id: 'a1', encoded: '{acme}:agent:a1' });
    expect(() => cacheKey('a b', 'agent', 'a1')).toThrow(/tenantId/);
    expect(() => cacheKey('', 'agent', 'a1')).toThrow(/tenantId/);
    expect(() => cacheKey('acme', 'nope' as CacheKind, 'a1')).toThrow(/kind/);
    expect(() => cacheKey('acme', 'agent', '')).toThrow(/id/);
    expect(apiKeyCacheKey('abc').tenantId).toBe(KEY_LOOKUP_SCOPE);
    expect(tenantCacheKey('acme').encoded).toBe('{acme}:tenant_config:acme');
  });

  it('two different (tenant, kind, id) never share a string', () => {
    fc.assert(
      fc.property(tenantId, kind, id, tenantId, kind, id, (t1, k1, i1, t2, k2, i2) => {
        const same = t1 === t2 && k1 === k2 && i1 === i2;
        expect(cacheKey(t1, k1, i1).encoded === cacheKey(t2, k2, i2).encoded).toBe(same);
      }),
      { numRuns: 2_000 },
    );
  });

  it("a prefix delete of one tenant's kind covers no key of another tenant or kind", () => {
    fc.assert(
      fc.property(tenantId, kind, id, tenantId, kind, (t1, k1, i1, t2, k2) => {
        expect(cacheKey(t1, k1, i1).encoded.startsWith(kindPrefix(t2, k2))).toBe(t1 === t2 && k1 === k2);
      }),
      { numRuns: 2_000 },
    );
  });

  it('skill results: one key for the same tenant, capability and canonical input (or cache key), another for any difference', () => {
    const task = (tenantId: string, capability: string, input: unknown, key?: string) => ({ tenantId, capability, input, cache: { ttlSeconds: 60, ...(key !== undefined && { key }) } });
    const base = skillResultCacheKey(task('acme', 'square', { n: 3, opts: { a: 1, b: 2 } }));
    expect(base.kind).toBe('skill_result');
    expect(base.tenantId).toBe('acme');
    expect(skillResultCacheKey(task('acme', 'square', { opts: { b: 2, a: 1 }, n: 3 })).encoded).toBe(base.encoded);
    expect(skillResultCacheKey(task('globex', 'square', { n: 3, opts: { a: 1, b: 2 } })).encoded).not.toBe(base.encoded);
    expect(skillResultCacheKey(task('acme', 'cube', { n: 3, opts: { a: 1, b: 2 } })).encoded).not.toBe(base.encoded);
    expect(skillResultCacheKey(task('acme', 'square', { n: 4, opts: { a: 1, b: 2 } })).encoded).not.toBe(base.encoded);
    // A cache key stands for the input: any input with that key shares the result.
    expect(skillResultCacheKey(task('acme', 'square', { n: 1 }, 'k')).encoded).toBe(skillResultCacheKey(task('acme', 'square', { n: 2 }, 'k')).encoded);
    expect(skillResultCacheKey(task('acme', 'square', { n: 1 }, 'k')).encoded).not.toBe(skillResultCacheKey(task('acme', 'square', { n: 1 })).encoded);
    // The secrets granted are part of it (in any order): an output made with one token is not served to a task granted another.
    const withSecrets = (secrets: string[]) => skillResultCacheKey({ ...task('acme', 'square', { n: 3, opts: { a: 1, b: 2 } }), secrets }).encoded;
    expect(withSecrets(['token-a'])).not.toBe(base.encoded);
    expect(withSecrets(['token-a'])).not.toBe(withSecrets(['token-b']));
    expect(withSecrets(['x', 'y'])).toBe(withSecrets(['y', 'x']));
  });
});
