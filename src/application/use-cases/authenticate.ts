import { UnauthorizedError } from '../../domain/index.js';
import { hashApiKey } from '../api-key-secrets.js';
import type { Caller } from '../caller.js';
import type { ApiKeyRecord, ApiKeyRepository, Clock } from '../ports.js';

const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;

/** Resolves a bearer key to its caller. Lookups are cached briefly (bounded) and dropped on revoke. */
export class Authenticator {
  private readonly cache = new Map<string, { record: ApiKeyRecord | undefined; until: number }>();
  /** Bumped by every revoke: a lookup that started before one must not be cached. */
  private generation = 0;

  constructor(
    private readonly apiKeys: ApiKeyRepository,
    private readonly clock: Clock,
  ) {}

  async authenticate(secret: string | undefined): Promise<Caller> {
    if (!secret) throw new UnauthorizedError('missing API key: send Authorization: Bearer <key>');
    const hash = hashApiKey(secret);
    const now = this.clock.now();
    let cached = this.cache.get(hash);
    if (!cached || cached.until <= now) {
      const generation = this.generation;
      const record = await this.apiKeys.findBySecretHash(hash);
      cached = { record, until: now + CACHE_TTL_MS };
      if (generation === this.generation) {
        if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(hash, cached);
      } else if (record !== undefined && record.revokedAt === undefined) {
        // A revoke happened meanwhile: ask again rather than trust this answer.
        return this.authenticate(secret);
      }
    }
    const record = cached.record;
    if (!record || record.revokedAt !== undefined) throw new UnauthorizedError('invalid or revoked API key');
    return { keyId: record.id, tenantId: record.tenantId, role: record.role, platform: record.platform, ...(record.agentId !== undefined && { agentId: record.agentId }) };
  }

  forget(keyId: string): void {
    this.generation++;
    for (const [hash, entry] of this.cache) if (entry.record?.id === keyId) this.cache.delete(hash);
  }
}
