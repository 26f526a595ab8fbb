import { createTenant, type TenantQuotas } from '../../domain/index.js';
import { hashApiKey, newApiKeySecret } from '../api-key-secrets.js';
import { requirePlatform, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';

export interface CreateTenantInput {
  id: string;
  name?: string;
  quotas?: Partial<TenantQuotas>;
}

/** Platform admin only. Returns the tenant and its first admin key, shown this once. */
export async function createTenantUseCase(ctx: MeshContext, caller: Caller, input: CreateTenantInput) {
  requirePlatform(caller, 'create tenants');
  const now = ctx.clock.now();
  const tenant = createTenant(input, now);
  await ctx.tenants.create(tenant);
  const { id, secret } = newApiKeySecret();
  await ctx.apiKeys.create({ id, tenantId: tenant.id, name: 'first admin', role: 'admin', platform: false, secretHash: hashApiKey(secret), createdAt: now });
  ctx.logger.info({ tenant_id: tenant.id, key_id: id }, 'tenant created');
  return { tenant, apiKey: { id, key: secret, role: 'admin' as const } };
}
