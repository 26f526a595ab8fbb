import { PayloadTooLargeError, ValidationError } from './errors.js';
import { assertName } from './validation.js';

/** A secret's name: what a task lists and an agent asks for; not only dots (a URL cannot carry '.' or '..' as a path segment). */
export const SECRET_NAME_PATTERN = '^(?!\\.+$)[A-Za-z0-9._-]{1,128}$';
const SECRET_NAME = new RegExp(SECRET_NAME_PATTERN);

export const MAX_SECRET_VALUE_BYTES = 64 * 1024;
export const MAX_SECRET_DESCRIPTION = 512;
/** A task names at most this many secrets. */
export const MAX_TASK_SECRETS = 16;
/** Versions kept per secret (the newest is the one read); older ones are destroyed as new ones come. */
export const MAX_KEPT_SECRET_VERSIONS = 10;
/** A policy's capability that allows every capability of the tenant. */
export const ANY_CAPABILITY = '*';

/** Which tasks' agents may read a secret: those working a task of one of these capabilities. */
export interface SecretPolicy {
  capabilities: string[];
}

export interface SecretVersionInfo {
  version: number;
  createdAt: number;
  /** The key id of whoever wrote it. */
  createdBy?: string;
}

/** What the API shows of a secret: never its value. */
export interface SecretMetadata {
  name: string;
  description?: string;
  policy: SecretPolicy;
  /** The version agents read. */
  currentVersion: number;
  versions: SecretVersionInfo[];
  createdAt: number;
  updatedAt: number;
  /** False once the tenant's key that sealed the current version was destroyed. */
  readable: boolean;
}

export function assertSecretName(value: string, field = 'name'): void {
  if (!SECRET_NAME.test(value)) throw new ValidationError(`${field} must be 1-128 characters of [A-Za-z0-9._-], not only dots`, field);
}

export function assertSecretValue(value: string, field = 'value'): void {
  if (value.length === 0) throw new ValidationError(`${field} must not be empty`, field);
  // A lone surrogate would be sealed as U+FFFD: the agent would read another value than the one written.
  if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) throw new ValidationError(`${field} must not contain a lone surrogate (U+D800 to U+DFFF without its pair), which is not text`, field);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_SECRET_VALUE_BYTES) throw new PayloadTooLargeError('secret value', MAX_SECRET_VALUE_BYTES, bytes);
}

/** A policy as stored: capability names checked, duplicates dropped, `*` alone when it is there. */
export function secretPolicy(capabilities: readonly string[]): SecretPolicy {
  if (capabilities.length === 0) throw new ValidationError(`policy.capabilities must name at least one capability, or '${ANY_CAPABILITY}' for all`, 'policy.capabilities');
  if (capabilities.includes(ANY_CAPABILITY)) return { capabilities: [ANY_CAPABILITY] };
  capabilities.forEach((name, i) => assertName(name, `policy.capabilities[${i}]`));
  return { capabilities: [...new Set(capabilities)].sort() };
}

export function policyAllows(policy: SecretPolicy, capability: string): boolean {
  return policy.capabilities.includes(ANY_CAPABILITY) || policy.capabilities.includes(capability);
}

/** The secrets a task names: each a valid name, at most MAX_TASK_SECRETS, no repeats. */
export function taskSecrets(names: readonly string[] | undefined): string[] | undefined {
  if (names === undefined || names.length === 0) return undefined;
  if (names.length > MAX_TASK_SECRETS) throw new ValidationError(`a task names at most ${MAX_TASK_SECRETS} secrets`, 'secrets');
  names.forEach((name, i) => assertSecretName(name, `secrets[${i}]`));
  return [...new Set(names)];
}
