import { sha256Hex } from './sha256.js';
import { assertIdentifier, type Task } from '../domain/index.js';
import { canonicalJson } from './canonical-json.js';
import { CACHE_KINDS, type CacheKey, type CacheKind } from './ports.js';

/**
 * The scope of the one read made before any tenant is known: an API key by the hash of its
 * secret. No tenant id can be it ('#' is not allowed in identifiers). The hash is the credential,
 * so only the key's holder reaches the entry.
 */
export const KEY_LOOKUP_SCOPE = '#keys';

const MAX_ID_LENGTH = 1024;

/**
 * The one place cache keys are made. The tenant is always part of the key, checked here, and
 * the key's string form is built here too (see `encoded`), so no adapter joins strings itself.
 */
export function cacheKey(tenantId: string, kind: CacheKind, id: string): CacheKey {
  if (tenantId !== KEY_LOOKUP_SCOPE) assertIdentifier(tenantId, 'tenantId');
  if (!CACHE_KINDS.includes(kind)) throw new Error(`unknown cache kind '${kind as string}'`);
  if (id.length === 0 || id.length > MAX_ID_LENGTH) throw new Error(`a cache key's id must be 1-${MAX_ID_LENGTH} characters`);
  return Object.freeze({ tenantId, kind, id, encoded: kindPrefix(tenantId, kind) + encodeURIComponent(id) });
}

/**
 * What every key of one tenant's kind starts with: `{tenant}:kind:`. Tenant and id are
 * percent-encoded (no '{', '}' or ':' survives), so two different keys never share a string and
 * the braces keep each tenant's keys in one Redis Cluster slot.
 */
export function kindPrefix(tenantId: string, kind: CacheKind): string {
  return `${tenantPrefix(tenantId)}${kind}:`;
}

/** What every key of one tenant starts with: `{tenant}:`. */
export function tenantPrefix(tenantId: string): string {
  return `{${encodeURIComponent(tenantId)}}:`;
}

/** The entry of an API key, by the hash of its secret. */
export const apiKeyCacheKey = (secretHash: string): CacheKey => cacheKey(KEY_LOOKUP_SCOPE, 'api_key', secretHash);

/** A tenant's configuration and quotas. */
export const tenantCacheKey = (tenantId: string): CacheKey => cacheKey(tenantId, 'tenant_config', tenantId);

/**
 * A tenant's agents as listed (every status, in the store's order): those with `capability`, or
 * all of them. An agent's registration and lifecycle changes delete the rosters it is in.
 */
export const agentRosterCacheKey = (tenantId: string, capability?: string): CacheKey =>
  cacheKey(tenantId, 'agent', capability === undefined ? 'all' : `cap:${capability}`);

/**
 * The kept result of tasks identical to `task`: same tenant (the key's scope), capability, the
 * secrets it is granted (an output made with one secret is not another's), and canonical input
 * (RFC 8785), or the task's own cache key instead of the input; hashed (SHA-256).
 */
export function skillResultCacheKey(task: Pick<Task, 'tenantId' | 'capability' | 'input' | 'cache' | 'secrets'>): CacheKey {
  const secrets = [...new Set(task.secrets ?? [])].sort();
  const identity = task.cache?.key !== undefined ? { capability: task.capability, key: task.cache.key, secrets } : { capability: task.capability, input: task.input ?? null, secrets };
  return cacheKey(task.tenantId, 'skill_result', sha256Hex(canonicalJson(identity)!));
}
