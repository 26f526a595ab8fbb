import { NotFoundError } from '../../domain/index.js';
import { requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';

const TENANT_READERS = ['admin', 'orchestrator', 'observer'] as const;

/** The platform admin sees any tenant; a tenant's own keys see only their tenant. */
export async function getTenant(ctx: MeshContext, caller: Caller, id: string) {
  if (!caller.platform && caller.tenantId !== id) throw new NotFoundError('tenant', id);
  const tenant = await ctx.tenants.get(id);
  if (!tenant) throw new NotFoundError('tenant', id);
  if (!caller.platform) requireRole(caller, TENANT_READERS, 'read tenants');
  return tenant;
}
