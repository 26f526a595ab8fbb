import { createHash } from 'node:crypto';
import type { KeyManagementService } from '../../../application/ports.js';
import { KEY_BYTES, open, seal } from './aes-gcm.js';

/** First 16 hex digits of a domain-separated SHA-256 of the key: names it without revealing it. */
export function masterKeyId(key: Buffer): string {
  return createHash('sha256').update('agentmesh/master-key-id/v1\0').update(key).digest('hex').slice(0, 16);
}

const wrapContext = (context: string) => `agentmesh/wrap/v1\0${context}`;

/**
 * Master keys held by this process (from configuration): the first wraps, all of them unwrap,
 * so that a new key can be put first while tenant keys wrapped by the old one are re-wrapped.
 */
export class LocalKeyring implements KeyManagementService {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('a keyring needs at least one master key');
    for (const key of keys) {
      if (key.length !== KEY_BYTES) throw new Error(`a master key is ${KEY_BYTES} bytes, this one is ${key.length}`);
      this.keys.set(masterKeyId(key), key);
    }
    this.currentKeyId = masterKeyId(keys[0]!);
  }

  get keyIds(): readonly string[] {
    return [...this.keys.keys()];
  }

  canUnwrap(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  async wrap(plaintext: Buffer, context: string): Promise<{ keyId: string; wrapped: string }> {
    return { keyId: this.currentKeyId, wrapped: seal(this.keys.get(this.currentKeyId)!, plaintext, wrapContext(context)).toString('base64') };
  }

  async unwrap(keyId: string, wrapped: string, context: string): Promise<Buffer> {
    const key = this.keys.get(keyId);
    if (key === undefined) throw new UnknownMasterKeyError(keyId);
    return open(key, Buffer.from(wrapped, 'base64'), wrapContext(context));
  }
}

export class UnknownMasterKeyError extends Error {
  constructor(readonly keyId: string) {
    super(`master key ${keyId} is not configured here: give every instance the same AGENTMESH_MASTER_KEY (and the previous keys while re-wrapping)`);
    this.name = 'UnknownMasterKeyError';
  }
}
