import * as crypto from 'node:crypto';

type OneShot = (algorithm: string, data: string | Buffer, encoding: 'hex') => string;

// crypto.hash (Node 20.12+) hashes in one call, about twice as fast as createHash().update().digest() on short inputs.
const oneShot: OneShot =
  (crypto as { hash?: OneShot }).hash ?? ((algorithm, data) => crypto.createHash(algorithm).update(data).digest('hex'));

/** SHA-256 of `data` (a string as UTF-8), in lowercase hex. */
export function sha256Hex(data: string | Buffer): string {
  return oneShot('sha256', data, 'hex');
}
