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

/**
 * Personal data of audit entries under envelope encryption, one key per data subject of a tenant
 * (owner `<tenant>/<subject>`, bound into the AAD): shredding a subject destroys its keys.
 */
export class EnvelopePersonalDataVault implements PersonalDataVault {
  constructor(private readonly vault: EnvelopeVault) {}

  get cachedKeys(): number {
    return this.vault.cachedKeys;
  }

  async seal(tenantId: string, subjectId: string, plaintext: Buffer): Promise<string> {
    const owner = ownerOf(tenantId, subjectId);
    return encode(await this.vault.seal(owner, owner, plaintext));
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

  shred(tenantId: string, subjectId: string): Promise<number> {
    return this.vault.destroyTenantKeys(ownerOf(tenantId, subjectId));
  }
}
