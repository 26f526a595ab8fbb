import { UnauthorizedError } from '../../domain/index.js';
import { hashApiKey } from '../api-key-secrets.js';
import { apiKeyCacheKey } from '../cache-keys.js';
import type { Caller } from '../caller.js';
import type { ApiKeyRecord, ApiKeyRepository, Cache } from '../ports.js';

/**
 * Resolves a bearer key to its caller. Lookups go through the cache (kind `api_key`); a revoke or
 * a rotation deletes the key's entry here at once and on every other instance over the cache's bus.
 */
export class Authenticator {
  constructor(
    private readonly apiKeys: ApiKeyRepository,
    private readonly cache: Cache,
  ) {}

  async authenticate(secret: string | undefined): Promise<Caller> {
    if (!secret) throw new UnauthorizedError('missing API key: send Authorization: Bearer <key>');
    const hash = hashApiKey(secret);
    const record = await this.cache.getOrLoad(apiKeyCacheKey(hash), () => this.apiKeys.findBySecretHash(hash));
    if (!record || record.revokedAt !== undefined) throw new UnauthorizedError('invalid or revoked API key');
    return {
      keyId: record.id,
      tenantId: record.tenantId,
      role: record.role,
      platform: record.platform,
      ...(record.agentId !== undefined && { agentId: record.agentId }),
      ...(record.rateLimitPerMinute !== undefined && { rateLimitPerMinute: record.rateLimitPerMinute }),
    };
  }

  /** The key was revoked, or its secret replaced: `record` as it was before, with the secret's hash that stops working. */
  forget(record: ApiKeyRecord): Promise<void> {
    return this.cache.delete(apiKeyCacheKey(record.secretHash));
  }
}
