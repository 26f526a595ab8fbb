import { ForbiddenError, NotFoundError, ValidationError } from '../../domain/index.js';
import { hashApiKey, newApiKeySecret } from '../api-key-secrets.js';
import { CAN_MANAGE_KEYS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import { ROLES, type ApiKeyRecord, type Role } from '../ports.js';
import { KEY_REVOKED_SUBJECT } from '../subjects.js';
import type { Authenticator } from './authenticate.js';

export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  revokedAt?: number;
}

const view = (k: ApiKeyRecord): ApiKeyView => ({
  id: k.id,
  name: k.name,
  role: k.role,
  createdAt: k.createdAt,
  ...(k.revokedAt !== undefined && { revokedAt: k.revokedAt }),
});

export async function createApiKey(ctx: MeshContext, caller: Caller, input: { name: string; role: Role }) {
  requireRole(caller, CAN_MANAGE_KEYS, 'create API keys');
  if (!ROLES.includes(input.role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`, 'role');
  const name = input.name.trim();
  if (name.length === 0 || name.length > 256) throw new ValidationError('name must be 1-256 characters', 'name');
  const { id, secret } = newApiKeySecret();
  const record: ApiKeyRecord = { id, tenantId: caller.tenantId, name, role: input.role, platform: false, secretHash: hashApiKey(secret), createdAt: ctx.clock.now() };
  await ctx.apiKeys.create(record);
  return { ...view(record), key: secret };
}

export async function listApiKeys(ctx: MeshContext, caller: Caller): Promise<ApiKeyView[]> {
  requireRole(caller, CAN_MANAGE_KEYS, 'list API keys');
  return (await ctx.apiKeys.list(caller.tenantId)).map(view);
}

export async function revokeApiKey(ctx: MeshContext, auth: Authenticator, caller: Caller, id: string): Promise<void> {
  requireRole(caller, CAN_MANAGE_KEYS, 'revoke API keys');
  const target = (await ctx.apiKeys.list(caller.tenantId)).find((k) => k.id === id);
  // The platform key is the operator's (AGENTMESH_ADMIN_KEY or the first-start key): not a tenant admin's to revoke.
  if (target?.platform) throw new ForbiddenError('the platform admin key cannot be revoked through the API', { keyId: id });
  if (!(await ctx.apiKeys.revoke(caller.tenantId, id, ctx.clock.now()))) throw new NotFoundError('api key', id);
  auth.forget(id);
  if (ctx.settings.clustered) ctx.broker.notify(KEY_REVOKED_SUBJECT, Buffer.from(id));
}
