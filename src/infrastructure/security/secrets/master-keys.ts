import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_BYTES, newKey } from './aes-gcm.js';

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** One key as configured: base64 of 32 random bytes (`openssl rand -base64 32`). */
function parseKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const key = BASE64.test(trimmed) ? Buffer.from(trimmed, 'base64') : Buffer.alloc(0);
  if (key.length !== KEY_BYTES) throw new MasterKeyError(`${where} is not base64 of ${KEY_BYTES} bytes (make one with: openssl rand -base64 32)`);
  return key;
}

/**
 * The master keys in a list: the first wraps new tenant keys, the others only unwrap (they are
 * the previous keys, kept while tenant keys are re-wrapped). In a file: one key per line, `#`
 * comments; in the variable: comma-separated.
 */
export function parseMasterKeys(text: string, source: string, separator: RegExp): Buffer[] {
  const entries = text
    .split(separator)
    .map((line) => line.replace(/#.*$/u, '').trim())
    .filter((line) => line.length > 0);
  if (entries.length === 0) throw new MasterKeyError(`${source} holds no key`);
  return entries.map((entry, i) => parseKey(entry, `${source}: key ${i + 1}`));
}

export function readMasterKeyFile(file: string): Buffer[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new MasterKeyError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseMasterKeys(text, file, /\r?\n/u);
}

export const DEVELOPMENT_MASTER_KEY_FILE = 'master-key';

/**
 * For development: a key kept in the data directory, made on first start (in memory only when
 * there is no data directory). `created` says a new key was made, so the caller can warn.
 */
export function developmentMasterKey(dataDir: string | undefined): { keys: Buffer[]; created: boolean; file?: string } {
  if (dataDir === undefined) return { keys: [newKey()], created: true };
  const file = join(dataDir, DEVELOPMENT_MASTER_KEY_FILE);
  if (existsSync(file)) return { keys: readMasterKeyFile(file), created: false, file };
  const key = newKey();
  mkdirSync(dataDir, { recursive: true });
  try {
    writeFileSync(file, `# AgentMesh development master key: it unlocks this mesh's secrets. Never use it in production.\n${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process on this directory made it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { keys: readMasterKeyFile(file), created: false, file };
    throw new MasterKeyError(`cannot write the development master key ${file}: ${(error as Error).message}`);
  }
  return { keys: [key], created: true, file };
}
