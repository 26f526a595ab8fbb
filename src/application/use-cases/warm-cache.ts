import { NotFoundError } from '../../domain/index.js';
import type { CacheWarmer, WarmReport } from '../cache-warmer.js';
import { CAN_ADMINISTER_CACHE, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';

/**
 * Preloads the cache on this instance now. The platform admin warms every tenant, or the one it
 * names; a tenant's admin warms its own tenant only (another tenant is not found, as everywhere).
 */
export async function warmCache(ctx: MeshContext, warmer: CacheWarmer, caller: Caller, tenantId: string | undefined): Promise<WarmReport & { scope: string }> {
  requireRole(caller, CAN_ADMINISTER_CACHE, 'warm the cache');
  if (!caller.platform && tenantId !== undefined && tenantId !== caller.tenantId) throw new NotFoundError('tenant', tenantId);
  const scope = caller.platform ? tenantId : caller.tenantId;
  if (scope !== undefined && !(await ctx.tenants.get(scope))) throw new NotFoundError('tenant', scope);
  return { scope: scope ?? 'all', ...(await warmer.warm(scope)) };
}
