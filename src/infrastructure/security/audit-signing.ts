import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** An Ed25519 key that signs checkpoints of the audit chains. */
export interface AuditSigner {
  /** First 16 bytes (hex) of the SHA-256 of the public key in SPKI DER. */
  keyId: string;
  publicKeyPem: string;
  sign(message: Buffer): string;
}

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);
}

function signerOf(privateKey: KeyObject): AuditSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`the audit signing key must be Ed25519, this one is ${privateKey.asymmetricKeyType ?? 'not an asymmetric key'}`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: keyIdOf(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign: (message) => sign(null, message, privateKey).toString('base64'),
  };
}

/** The key in a PEM file (PKCS#8, as `openssl genpkey -algorithm ed25519` writes it). */
export function loadSigningKey(file: string): AuditSigner {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SigningKeyError(`cannot read the audit signing key ${file}: ${(error as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new SigningKeyError(`${file} is not a PEM private key: ${(error as Error).message}`);
  }
  return signerOf(key);
}

export const DEVELOPMENT_KEY_FILE = 'audit-signing-key.pem';

/**
 * For development: the key kept in the data directory, made on first start; in memory only when
 * there is no data directory. `created` says a new key was made, so the caller can warn.
 */
export function developmentSigningKey(dataDir: string | undefined): { signer: AuditSigner; created: boolean; file?: string } {
  if (dataDir !== undefined) {
    const file = join(dataDir, DEVELOPMENT_KEY_FILE);
    if (existsSync(file)) return { signer: loadSigningKey(file), created: false, file };
    const { privateKey } = generateKeyPairSync('ed25519');
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Another instance on this directory made it first: use theirs.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { signer: loadSigningKey(file), created: false, file };
      throw new SigningKeyError(`cannot write the development audit signing key ${file}: ${(error as Error).message}`);
    }
    return { signer: signerOf(privateKey), created: true, file };
  }
  return { signer: signerOf(generateKeyPairSync('ed25519').privateKey), created: true };
}

/** A public key from PEM (SPKI), or the public half of a private key's PEM. */
export function publicKeyFromPem(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'another kind'}`);
  return key;
}

export function verifySignature(publicKey: KeyObject, message: Buffer, signature: string): boolean {
  try {
    return verify(null, message, publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
