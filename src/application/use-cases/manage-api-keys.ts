import { assertIdentifier, assertStorableText, ForbiddenError, NotFoundError, ValidationError } from '../../domain/index.js';
import { hashApiKey, newApiKeySecret } from '../api-key-secrets.js';
import { CAN_MANAGE_KEYS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import { ROLES, type ApiKeyRecord, type Role } from '../ports.js';
import type { Authenticator } from './authenticate.js';
import { PLAIN } from '../../domain/plain.js';

export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  agentId?: string;
  createdAt: number;
  revokedAt?: number;
  rateLimitPerMinute?: number;
}

/** The seed's rate-limit tiers, in requests per minute; any whole number in range is taken. */
export const RATE_LIMIT_TIERS = [10, 100, 1_000, 10_000] as const;
export const MAX_KEY_RATE_LIMIT = 100_000_000;

const view = (k: ApiKeyRecord): ApiKeyView => ({
  id: k.id,
  name: k.name,
  role: k.role,
  ...(k.agentId !== undefined && { agentId: k.agentId }),
  createdAt: k.createdAt,
  ...(k.revokedAt !== undefined && { revokedAt: k.revokedAt }),
  ...(k.rateLimitPerMinute !== undefined && { rateLimitPerMinute: k.rateLimitPerMinute }),
});

/**
 * A key's own limit: a whole number in range; above the instance's per-key limit (`ceiling`) only
 * from the platform admin, or a tenant's admin could lift its keys past what the operator set.
 */
function assertRateLimit(caller: Caller, perMinute: number | undefined, ceiling: number | undefined): void {
  if (perMinute === undefined) return;
  if (!(Number.isInteger(perMinute) && perMinute >= 1 && perMinute <= MAX_KEY_RATE_LIMIT)) {
    throw new ValidationError(`rateLimitPerMinute must be a whole number from 1 to ${MAX_KEY_RATE_LIMIT} (the tiers: ${RATE_LIMIT_TIERS.join(', ')})`, 'rateLimitPerMinute');
  }
  if (ceiling !== undefined && perMinute > ceiling && !caller.platform) {
    throw new ForbiddenError(`a tenant's admin may give a key at most the instance's per-key limit (${ceiling} per minute); more takes the platform admin key`, { rateLimitPerMinute: perMinute, ceiling });
  }
}

export async function createApiKey(ctx: MeshContext, caller: Caller, input: { name: string; role: Role; agentId?: string; rateLimitPerMinute?: number }, keyLimitCeiling?: number) {
  requireRole(caller, CAN_MANAGE_KEYS, 'create API keys');
  if (!ROLES.includes(input.role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`, 'role');
  const name = input.name.trim();
  if (name.length === 0 || name.length > 256) throw new ValidationError('name must be 1-256 characters', 'name');
  assertStorableText(name, 'name');
  if (input.role === 'agent' && input.agentId === undefined) throw new ValidationError('an agent key acts as one agent: name it in agentId', 'agentId');
  if (input.role !== 'agent' && input.agentId !== undefined) throw new ValidationError(`only agent keys are bound to an agent; a key of role '${input.role}' takes no agentId`, 'agentId');
  if (input.agentId !== undefined) assertIdentifier(input.agentId, 'agentId');
  assertRateLimit(caller, input.rateLimitPerMinute, keyLimitCeiling);
  const { id, secret } = newApiKeySecret();
  const record: ApiKeyRecord = {
    id,
    tenantId: caller.tenantId,
    name,
    role: input.role,
    platform: false,
    secretHash: hashApiKey(secret),
    createdAt: ctx.clock.now(),
    ...(input.agentId !== undefined && { agentId: input.agentId }),
    ...(input.rateLimitPerMinute !== undefined && { rateLimitPerMinute: input.rateLimitPerMinute }),
  };
  await ctx.apiKeys.create(record);
  return { ...PLAIN, ...view(record), key: secret };
}

export async function listApiKeys(ctx: MeshContext, caller: Caller): Promise<ApiKeyView[]> {
  requireRole(caller, CAN_MANAGE_KEYS, 'list API keys');
  return (await ctx.apiKeys.list(caller.tenantId)).map(view);
}

/** A new secret for a live key (same id, role and agent); the old secret stops working at once, on every instance. */
export async function rotateApiKey(ctx: MeshContext, auth: Authenticator, caller: Caller, id: string) {
  requireRole(caller, CAN_MANAGE_KEYS, 'rotate API keys');
  const target = (await ctx.apiKeys.list(caller.tenantId)).find((k) => k.id === id && k.revokedAt === undefined);
  if (!target) throw new NotFoundError('api key', id);
  if (target.platform) throw new ForbiddenError('the platform admin key is rotated by changing AGENTMESH_ADMIN_KEY, not through the API', { keyId: id });
  const { secret } = newApiKeySecret(id);
  if (!(await ctx.apiKeys.replaceSecret(caller.tenantId, id, hashApiKey(secret)))) throw new NotFoundError('api key', id);
  await auth.forget(target);
  return { ...PLAIN, ...view(target), key: secret };
}

export async function revokeApiKey(ctx: MeshContext, auth: Authenticator, caller: Caller, id: string): Promise<void> {
  requireRole(caller, CAN_MANAGE_KEYS, 'revoke API keys');
  const target = (await ctx.apiKeys.list(caller.tenantId)).find((k) => k.id === id);
  // The platform key is the operator's (AGENTMESH_ADMIN_KEY or the first-start key): not a tenant admin's to revoke.
  if (target?.platform) throw new ForbiddenError('the platform admin key cannot be revoked through the API', { keyId: id });
  if (!(await ctx.apiKeys.revoke(caller.tenantId, id, ctx.clock.now()))) throw new NotFoundError('api key', id);
  // The secret stops working here before the answer, and on the other instances as soon as the cache's bus carries it.
  // Read again: a rotation may have replaced the secret between the list and the revoke (none can after it).
  const revoked = (await ctx.apiKeys.list(caller.tenantId)).find((k) => k.id === id);
  if (target) await auth.forget(target);
  if (revoked && revoked.secretHash !== target?.secretHash) await auth.forget(revoked);
}

/** Sets a live key's own rate limit, or with null returns it to the instance's default; every instance applies it at once. */
export async function setApiKeyRateLimit(ctx: MeshContext, auth: Authenticator, caller: Caller, id: string, perMinute: number | null, keyLimitCeiling?: number): Promise<ApiKeyView> {
  requireRole(caller, CAN_MANAGE_KEYS, 'change API keys');
  assertRateLimit(caller, perMinute ?? undefined, keyLimitCeiling);
  const target = (await ctx.apiKeys.list(caller.tenantId)).find((k) => k.id === id && k.revokedAt === undefined);
  if (!target) throw new NotFoundError('api key', id);
  // Throttled, the operator's key could lock its holder out (refused requests count too), with no key above it to lift the limit.
  // Clearing stays allowed: a limit set before this rule must be removable.
  if (target.platform && perMinute !== null) throw new ForbiddenError('the platform admin key takes the instance limits only: its own limit cannot be set through the API', { keyId: id });
  if (!(await ctx.apiKeys.setRateLimit(caller.tenantId, id, perMinute ?? undefined))) throw new NotFoundError('api key', id);
  await auth.forget(target);
  const { rateLimitPerMinute: _previous, ...rest } = target;
  return view(perMinute === null ? rest : { ...PLAIN, ...rest, rateLimitPerMinute: perMinute });
}
