import { ForbiddenError, NotFoundError } from '../../domain/index.js';
import type { Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';

/** The platform admin sees any tenant; a tenant's own keys see only their tenant. */
export async function getTenant(ctx: MeshContext, caller: Caller, id: string) {
  if (!caller.platform && caller.tenantId !== id) throw new NotFoundError('tenant', id);
  const tenant = await ctx.tenants.get(id);
  if (!tenant) throw new NotFoundError('tenant', id);
  if (!caller.platform && caller.role === 'agent') throw new ForbiddenError("role 'agent' may not read tenants");
  return tenant;
}
