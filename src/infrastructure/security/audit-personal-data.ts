import { LRUCache } from 'lru-cache';
import { GoneError } from '../../domain/index.js';
import type { PersonalDataVault, SealedValue } from '../../application/ports.js';
import type { EnvelopeVault } from './secrets/envelope-vault.js';

/** Format of a sealed entry's personal data: `p1.<key version>.<wrapped data key>.<ciphertext>` (base64 has no dots). */
const FORMAT = 'p1';

const ownerOf = (tenantId: string, subjectId: string) => `${tenantId}/${subjectId}`;

function encode(sealed: SealedValue): string {
  return `${FORMAT}.${sealed.tenantKeyVersion}.${sealed.wrappedDataKey}.${sealed.ciphertext}`;
}

function decode(text: string): SealedValue {
  const [format, version, wrappedDataKey, ciphertext, ...rest] = text.split('.');
  if (format !== FORMAT || rest.length > 0 || wrappedDataKey === undefined || ciphertext === undefined || !/^\d+$/u.test(version ?? '')) {
    throw new Error('not sealed personal data of a known format');
  }
  return { tenantKeyVersion: Number(version), wrappedDataKey, ciphertext };
}

/** Data larger than this (details beyond an address and a user agent) is sealed afresh each time, so that the seals held stay small. */
const MAX_REUSED_BYTES = 1024;

export interface SealReuseOptions {
  /** Seals remembered for reuse (bounded; least recently used go first); 0: none. */
  maxSeals: number;
  /**
   * How long a seal is reused: no longer than the vault keeps using an owner's current key without
   * looking it up (its `currentKeyTtlMs`), so a reused seal is one the vault could have made now.
   */
  ttlMs: number;
}

/**
 * Personal data of audit entries under envelope encryption, one key per data subject of a tenant
 * (owner `<tenant>/<subject>`, bound into the AAD): shredding a subject destroys its keys.
 *
 * A subject's requests mostly carry the same personal data (its address and user agent), and each
 * seal costs a fresh data key and two AES-GCM encryptions: the seal of the same data for the same
 * subject is reused for a few seconds. Reusing a whole seal is not nonce reuse (the same plaintext,
 * key and nonce give the same ciphertext); it shows only that two entries of one subject, already
 * linked by their subject id, carried the same data. Shredding the subject forgets its seals.
 */
export class EnvelopePersonalDataVault implements PersonalDataVault {
  private readonly seals: LRUCache<string, string> | undefined;
  /** Moves before and after every shredding: a seal made across one is not remembered. */
  private shreddings = 0;

  constructor(
    private readonly vault: EnvelopeVault,
    reuse: SealReuseOptions = { maxSeals: 0, ttlMs: 0 },
  ) {
    this.seals = reuse.maxSeals > 0 && reuse.ttlMs > 0 ? new LRUCache({ max: reuse.maxSeals, ttl: reuse.ttlMs }) : undefined;
  }

  get cachedKeys(): number {
    return this.vault.cachedKeys;
  }

  /** Seals held for reuse. */
  get reusableSeals(): number {
    return this.seals?.size ?? 0;
  }

  async seal(tenantId: string, subjectId: string, plaintext: Buffer): Promise<string> {
    const owner = ownerOf(tenantId, subjectId);
    const seals = plaintext.length <= MAX_REUSED_BYTES ? this.seals : undefined;
    if (seals === undefined) return encode(await this.vault.seal(owner, owner, plaintext));
    const key = `${owner}\0${plaintext.toString('latin1')}`;
    const reused = seals.get(key);
    if (reused !== undefined) return reused;
    const epoch = this.shreddings;
    const sealed = encode(await this.vault.seal(owner, owner, plaintext));
    if (epoch === this.shreddings) seals.set(key, sealed);
    return sealed;
  }

  async open(tenantId: string, subjectId: string, sealed: string): Promise<Buffer | undefined> {
    const owner = ownerOf(tenantId, subjectId);
    try {
      return await this.vault.open(owner, owner, decode(sealed));
    } catch (error) {
      if (error instanceof GoneError) return undefined;
      throw error;
    }
  }

  async shred(tenantId: string, subjectId: string): Promise<number> {
    const owner = ownerOf(tenantId, subjectId);
    this.shreddings++;
    try {
      return await this.vault.destroyTenantKeys(owner);
    } finally {
      this.shreddings++;
      if (this.seals) for (const key of [...this.seals.keys()]) if (key.startsWith(`${owner}\0`)) this.seals.delete(key);
    }
  }
}
