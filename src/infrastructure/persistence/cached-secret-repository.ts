import { LRUCache } from 'lru-cache';
import type { SecretMetadata, SecretPolicy } from '../../domain/index.js';
import type { CurrentSecret, Page, PageRequest, SecretRepository, SecretVersionWrite } from '../../application/ports.js';

export interface SecretCacheOptions {
  /** Bytes of sealed values kept (their base64 length). */
  maxBytes: number;
}

export const DEFAULT_SECRET_CACHE_OPTIONS: SecretCacheOptions = { maxBytes: 16 * 1024 * 1024 };

const keyOf = (tenantId: string, name: string) => `${tenantId}\0${name}`;

/**
 * The version agents read, kept in memory, sealed as stored (never a value in clear), by an
 * instance that is the only writer of its database: every change goes through it, so it drops
 * what a change makes stale. A read that raced a change is not kept (the epoch moved).
 */
export class CachedSecretRepository implements SecretRepository {
  private readonly cache: LRUCache<string, CurrentSecret>;
  /** Moves before and after every change: a read spanning a change does not fill the cache. */
  private epoch = 0;

  constructor(
    private readonly inner: SecretRepository,
    options: SecretCacheOptions = DEFAULT_SECRET_CACHE_OPTIONS,
  ) {
    this.cache = new LRUCache({ maxSize: options.maxBytes, sizeCalculation: (s) => s.sealed.ciphertext.length + s.sealed.wrappedDataKey.length + 512 });
  }

  get cachedEntries(): number {
    return this.cache.size;
  }

  get cachedBytes(): number {
    return this.cache.calculatedSize;
  }

  async current(tenantId: string, name: string): Promise<CurrentSecret | undefined> {
    const key = keyOf(tenantId, name);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const epoch = this.epoch;
    const found = await this.inner.current(tenantId, name);
    if (found !== undefined && epoch === this.epoch) this.cache.set(key, found);
    return found;
  }

  upsert(write: SecretVersionWrite, policy: SecretPolicy, description: string | undefined) {
    return this.changing(() => this.inner.upsert(write, policy, description), () => this.cache.delete(keyOf(write.tenantId, write.name)));
  }

  addVersion(write: SecretVersionWrite) {
    return this.changing(() => this.inner.addVersion(write), () => this.cache.delete(keyOf(write.tenantId, write.name)));
  }

  delete(tenantId: string, name: string) {
    return this.changing(() => this.inner.delete(tenantId, name), () => this.cache.delete(keyOf(tenantId, name)));
  }

  /** Nothing of the tenant read before its keys' destruction is served afterwards. */
  destroyingTenantKeys<T>(tenantId: string, destroy: () => Promise<T>): Promise<T> {
    const prefix = `${tenantId}\0`;
    return this.changing(destroy, () => {
      for (const key of [...this.cache.keys()]) if (key.startsWith(prefix)) this.cache.delete(key);
    });
  }

  get(tenantId: string, name: string): Promise<SecretMetadata | undefined> {
    return this.inner.get(tenantId, name);
  }

  list(tenantId: string, page: PageRequest): Promise<Page<SecretMetadata>> {
    return this.inner.list(tenantId, page);
  }

  private async changing<T>(change: () => Promise<T>, drop: () => void): Promise<T> {
    this.epoch++;
    try {
      return await change();
    } finally {
      drop();
      this.epoch++;
    }
  }
}
