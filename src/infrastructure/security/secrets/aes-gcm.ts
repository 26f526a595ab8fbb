import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The layout of a sealed box: format, IV, tag, ciphertext. A new format gets a new first byte. */
const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

/** AES-256-GCM with a fresh random IV; `aad` is authenticated, not stored. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), iv, cipher.getAuthTag(), body]);
}

/** Fails closed (DecryptionError) on a wrong key, a wrong AAD, or any altered byte. */
export function open(key: Buffer, box: Buffer, aad: string): Buffer {
  if (box.length < 1 + IV_BYTES + TAG_BYTES || box[0] !== FORMAT) throw new DecryptionError('not a sealed box of a known format');
  const iv = box.subarray(1, 1 + IV_BYTES);
  const tag = box.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(box.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new DecryptionError('the sealed box does not open: wrong key, wrong context, or altered');
  }
}

export function newKey(): Buffer {
  return randomBytes(KEY_BYTES);
}
