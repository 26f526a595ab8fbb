import { randomBytes } from 'node:crypto';
import { assertStorableText, assertSecretName, assertSecretValue, MAX_SECRET_DESCRIPTION, NotFoundError, secretPolicy, ValidationError, type SecretMetadata } from '../../domain/index.js';
import { CAN_DESTROY_TENANT_KEYS, CAN_MANAGE_SECRETS, CAN_SEE_SECRETS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import type { Page, PageRequest, SecretVersionWrite } from '../ports.js';

/** What a version's value is bound to: moved to another tenant, name or version, it does not open. */
export const secretAad = (tenantId: string, name: string, versionId: string) => `${tenantId}\0${name}\0${versionId}`;

/** Bytes of a value the mesh makes when a rotation brings none. */
const GENERATED_SECRET_BYTES = 32;

export interface PutSecretInput {
  value: string;
  policy: { capabilities: string[] };
  description?: string;
}

async function sealedVersion(ctx: MeshContext, caller: Caller, name: string, value: string): Promise<SecretVersionWrite> {
  const versionId = ctx.ids.newId();
  const sealed = await ctx.vault.seal(caller.tenantId, secretAad(caller.tenantId, name, versionId), Buffer.from(value, 'utf8'));
  return { tenantId: caller.tenantId, name, versionId, sealed, at: ctx.clock.now(), by: caller.keyId };
}

async function metadata(ctx: MeshContext, tenantId: string, name: string): Promise<SecretMetadata> {
  const found = await ctx.secrets.get(tenantId, name);
  if (!found) throw new NotFoundError('secret', name);
  return found;
}

/** Creates a secret, or gives it a new version (the newest is read) and replaces its policy and description. */
export async function putSecret(ctx: MeshContext, caller: Caller, name: string, input: PutSecretInput): Promise<{ secret: SecretMetadata; created: boolean }> {
  requireRole(caller, CAN_MANAGE_SECRETS, 'write secrets');
  assertSecretName(name);
  assertSecretValue(input.value);
  const policy = secretPolicy(input.policy.capabilities);
  const description = input.description?.trim();
  if (description !== undefined && description.length > MAX_SECRET_DESCRIPTION) throw new ValidationError(`description must be at most ${MAX_SECRET_DESCRIPTION} characters`, 'description');
  if (description !== undefined) assertStorableText(description, 'description');
  const write = await sealedVersion(ctx, caller, name, input.value);
  const { created } = await ctx.secrets.upsert(write, policy, description === '' ? undefined : description);
  return { secret: await metadata(ctx, caller.tenantId, name), created };
}

/**
 * A new version of an existing secret, policy unchanged. Without a value the mesh makes one
 * (32 random bytes, base64url) and returns it, once.
 */
export async function rotateSecret(ctx: MeshContext, caller: Caller, name: string, value: string | undefined): Promise<{ secret: SecretMetadata; generatedValue?: string }> {
  requireRole(caller, CAN_MANAGE_SECRETS, 'rotate secrets');
  assertSecretName(name);
  const generated = value === undefined ? randomBytes(GENERATED_SECRET_BYTES).toString('base64url') : undefined;
  const newValue = value ?? generated!;
  assertSecretValue(newValue);
  // Before sealing: a seal for a secret that does not exist would make the tenant a key for nothing.
  if (!(await ctx.secrets.get(caller.tenantId, name))) throw new NotFoundError('secret', name);
  const added = await ctx.secrets.addVersion(await sealedVersion(ctx, caller, name, newValue));
  if (!added) throw new NotFoundError('secret', name);
  return { secret: await metadata(ctx, caller.tenantId, name), ...(generated !== undefined && { generatedValue: generated }) };
}

export async function listSecrets(ctx: MeshContext, caller: Caller, page: PageRequest): Promise<Page<SecretMetadata>> {
  requireRole(caller, CAN_SEE_SECRETS, 'list secrets');
  return ctx.secrets.list(caller.tenantId, page);
}

export async function getSecretMetadata(ctx: MeshContext, caller: Caller, name: string): Promise<SecretMetadata> {
  requireRole(caller, CAN_SEE_SECRETS, 'read secret metadata');
  assertSecretName(name);
  return metadata(ctx, caller.tenantId, name);
}

/** Deletes a secret with every version of it: their sealed values are gone from the store. */
export async function deleteSecret(ctx: MeshContext, caller: Caller, name: string): Promise<void> {
  requireRole(caller, CAN_MANAGE_SECRETS, 'delete secrets');
  assertSecretName(name);
  if (!(await ctx.secrets.delete(caller.tenantId, name))) throw new NotFoundError('secret', name);
}

/**
 * Crypto-shredding: destroys the tenant's keys, so no secret sealed so far can be read again,
 * by anyone, from the database or its backups (once the master key that wrapped them is rotated
 * away). Secrets written afterwards get a new tenant key. `confirm` must repeat the tenant's id.
 */
export async function destroyTenantKeys(ctx: MeshContext, caller: Caller, confirm: string): Promise<{ destroyedKeys: number }> {
  requireRole(caller, CAN_DESTROY_TENANT_KEYS, "destroy the tenant's keys");
  if (confirm !== caller.tenantId) throw new ValidationError(`confirm must be the tenant's id ('${caller.tenantId}'): destroying its keys makes every secret unreadable for good`, 'confirm');
  return { destroyedKeys: await ctx.secrets.destroyingTenantKeys(caller.tenantId, () => ctx.vault.destroyTenantKeys(caller.tenantId)) };
}
