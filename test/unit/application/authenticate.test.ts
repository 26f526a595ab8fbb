import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../../src/application/api-key-secrets.js';
import type { ApiKeyRecord, ApiKeyRepository } from '../../../src/application/ports.js';
import { Authenticator } from '../../../src/application/use-cases/authenticate.js';
import { UnauthorizedError } from '../../../src/domain/index.js';
import { inMemoryCache } from '../../../src/infrastructure/caching/caches.js';
import { DEFAULT_CACHE_SETTINGS } from '../../../src/infrastructure/caching/tiered-cache.js';

/** Keys in memory, counting the lookups that reach them. */
class Keys implements Pick<ApiKeyRepository, 'findBySecretHash'> {
  readonly records = new Map<string, ApiKeyRecord>();
  lookups = 0;
  async findBySecretHash(hash: string) {
    this.lookups++;
    return this.records.get(hash);
  }
}

const record = (secret: string, tenantId = 'acme'): ApiKeyRecord => ({ id: `k-${secret}`, tenantId, name: 'k', role: 'observer', platform: false, secretHash: hashApiKey(secret), createdAt: 1 });

describe('Authenticator', () => {
  it('looks a key up once, then answers from the cache', async () => {
    const keys = new Keys();
    keys.records.set(hashApiKey('secret-a'), record('secret-a'));
    const auth = new Authenticator(keys as unknown as ApiKeyRepository, await inMemoryCache(DEFAULT_CACHE_SETTINGS));
    for (let i = 0; i < 3; i++) expect(await auth.authenticate('secret-a')).toMatchObject({ keyId: 'k-secret-a', tenantId: 'acme', role: 'observer' });
    expect(keys.lookups).toBe(1);
  });

  it('an unknown key is asked of the store each time (nothing cached for it), and refused', async () => {
    const keys = new Keys();
    const auth = new Authenticator(keys as unknown as ApiKeyRepository, await inMemoryCache(DEFAULT_CACHE_SETTINGS));
    for (let i = 0; i < 2; i++) await expect(auth.authenticate('nope')).rejects.toBeInstanceOf(UnauthorizedError);
    expect(keys.lookups).toBe(2);
  });

  it('a forgotten (revoked) key is refused at once, though it was cached', async () => {
    const keys = new Keys();
    const live = record('secret-b');
    keys.records.set(live.secretHash, live);
    const auth = new Authenticator(keys as unknown as ApiKeyRepository, await inMemoryCache(DEFAULT_CACHE_SETTINGS));
    await auth.authenticate('secret-b');
    keys.records.set(live.secretHash, { ...live, revokedAt: 2 });
    await auth.forget(live);
    await expect(auth.authenticate('secret-b')).rejects.toThrow(/revoked/);
  });
});
