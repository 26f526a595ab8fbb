import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiKeyCacheKey, cacheKey, KEY_LOOKUP_SCOPE, kindPrefix, tenantCacheKey } from '../../../src/application/cache-keys.js';
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
});
