import { tenantCacheKey } from '../../application/cache-keys.js';
import type { Cache, TenantRepository } from '../../application/ports.js';
import { isIdentifier, type Tenant } from '../../domain/index.js';

/**
 * Tenant reads (configuration and quotas, read by every submit and registration) through the
 * cache. Tenants do not change once created, and a missing tenant is not cached, so a create
 * needs no invalidation; a future change of quotas must delete the tenant's entry.
 */
export class CachedTenantRepository implements TenantRepository {
  constructor(
    private readonly tenants: TenantRepository,
    private readonly cache: Cache,
  ) {}

  create(tenant: Tenant): Promise<void> {
    return this.tenants.create(tenant);
  }

  get(id: string): Promise<Tenant | undefined> {
    // No tenant has an id that is not an identifier: ask the store, which answers none, as before.
    if (!isIdentifier(id)) return this.tenants.get(id);
    return this.cache.getOrLoad(tenantCacheKey(id), () => this.tenants.get(id));
  }

  count(): Promise<number> {
    return this.tenants.count();
  }

  listIds(): Promise<string[]> {
    return this.tenants.listIds();
  }
}
