import { NotFoundError } from '../../domain/index.js';
import { CAN_READ_TENANTS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';

/** The platform admin sees any tenant; a tenant's own keys see only their tenant. */
export async function getTenant(ctx: MeshContext, caller: Caller, id: string) {
  if (!caller.platform && caller.tenantId !== id) throw new NotFoundError('tenant', id);
  const tenant = await ctx.tenants.get(id);
  if (!tenant) throw new NotFoundError('tenant', id);
  if (!caller.platform) requireRole(caller, CAN_READ_TENANTS, 'read tenants');
  return tenant;
}
