import { ConflictError, createTenant } from '../../domain/index.js';
import { hashApiKey, newApiKeySecret } from '../api-key-secrets.js';
import type { MeshContext } from '../mesh-context.js';

export const DEFAULT_TENANT_ID = 'default';

/**
 * On first start with an empty store: tenant `default` and a platform admin key. The key is
 * `configuredKey` when given (scripts, tests), else generated and returned once to be printed.
 * With a configured key on a store that exists, the key is (re)registered so it keeps working.
 */
export async function bootstrap(ctx: MeshContext, configuredKey: string | undefined): Promise<{ createdKey?: string }> {
  const now = ctx.clock.now();
  // Created unless the store has it: asked of the store itself (a create that conflicts), not of a read that a cache may answer.
  await ctx.tenants.create(createTenant({ id: DEFAULT_TENANT_ID, name: 'Default tenant' }, now)).catch((error: unknown) => {
    if (!(error instanceof ConflictError)) throw error;
  });
  if (configuredKey !== undefined) {
    const hash = hashApiKey(configuredKey);
    if (!(await ctx.apiKeys.findBySecretHash(hash))) {
      await ctx.apiKeys.create({
        id: 'bootstrap-' + hash.slice(0, 8),
        tenantId: DEFAULT_TENANT_ID,
        name: 'bootstrap admin (AGENTMESH_ADMIN_KEY)',
        role: 'admin',
        platform: true,
        secretHash: hash,
        createdAt: now,
      });
    }
    return {};
  }
  const existing = await ctx.apiKeys.list(DEFAULT_TENANT_ID);
  if (existing.some((k) => k.platform && k.revokedAt === undefined)) return {};
  const { id, secret } = newApiKeySecret();
  await ctx.apiKeys.create({
    id,
    tenantId: DEFAULT_TENANT_ID,
    name: 'bootstrap admin',
    role: 'admin',
    platform: true,
    secretHash: hashApiKey(secret),
    createdAt: now,
  });
  return { createdKey: secret };
}
