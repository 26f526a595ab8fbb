import { randomBytes } from 'node:crypto';
import { sha256Hex } from './sha256.js';

/** Keys look like `am_<id>.<secret>`: the id is safe to log, the secret is never stored. */
/** A new secret, for a new key or (rotation) for the key `id`. */
export function newApiKeySecret(id = randomBytes(9).toString('base64url')): { id: string; secret: string } {
  return { id, secret: `am_${id}.${randomBytes(24).toString('base64url')}` };
}

export function hashApiKey(secret: string): string {
  return sha256Hex(secret);
}

/** The id part of a key, for logs, without touching the secret. */
export function apiKeyIdOf(secret: string): string | undefined {
  const match = /^am_([A-Za-z0-9_-]{12})\./.exec(secret);
  return match?.[1];
}
