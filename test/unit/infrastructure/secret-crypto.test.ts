import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DecryptionError, newKey, open, seal } from '../../../src/infrastructure/security/secrets/aes-gcm.js';
import { LocalKeyring, masterKeyId, UnknownMasterKeyError } from '../../../src/infrastructure/security/secrets/local-kms.js';
import { developmentMasterKey, MasterKeyError, parseMasterKeys, readMasterKeyFile } from '../../../src/infrastructure/security/secrets/master-keys.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('AES-256-GCM boxes', () => {
  it('open what they sealed, for any value and AAD', () => {
    const key = newKey();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.string(), (value, aad) => {
        expect(open(key, seal(key, Buffer.from(value), aad), aad)).toEqual(Buffer.from(value));
      }),
    );
  });

  it('use a fresh IV every time: the same value never seals the same way twice', () => {
    const key = newKey();
    expect(seal(key, Buffer.from('same'), 'a').equals(seal(key, Buffer.from('same'), 'a'))).toBe(false);
  });

  it('fail closed on any altered byte, a wrong key, a wrong AAD, a truncated box or an unknown format', () => {
    const key = newKey();
    const box = seal(key, Buffer.from('the value'), 'tenant\0name\0v1');
    for (let i = 0; i < box.length; i++) {
      const altered = Buffer.from(box);
      altered[i]! ^= 0x01;
      expect(() => open(key, altered, 'tenant\0name\0v1'), `byte ${i}`).toThrow(DecryptionError);
    }
    expect(() => open(newKey(), box, 'tenant\0name\0v1')).toThrow(DecryptionError);
    expect(() => open(key, box, 'tenant\0name\0v2')).toThrow(DecryptionError);
    expect(() => open(key, box.subarray(0, 20), 'tenant\0name\0v1')).toThrow(DecryptionError);
    expect(() => open(key, Buffer.alloc(0), 'tenant\0name\0v1')).toThrow(DecryptionError);
  });
});

describe('the local master keyring', () => {
  it('wraps with its first key, unwraps with any of them, and binds the context', async () => {
    const [k1, k2] = [newKey(), newKey()];
    const before = new LocalKeyring([k1]);
    const wrapped = await before.wrap(Buffer.from('tenant key'), 'tenant-key\0acme');
    expect(wrapped.keyId).toBe(masterKeyId(k1));
    const after = new LocalKeyring([k2, k1]);
    expect(after.currentKeyId).toBe(masterKeyId(k2));
    expect(after.canUnwrap(masterKeyId(k1))).toBe(true);
    expect((await after.unwrap(wrapped.keyId, wrapped.wrapped, 'tenant-key\0acme')).toString()).toBe('tenant key');
    await expect(after.unwrap(wrapped.keyId, wrapped.wrapped, 'tenant-key\0globex')).rejects.toBeInstanceOf(DecryptionError);
    await expect(new LocalKeyring([k2]).unwrap(wrapped.keyId, wrapped.wrapped, 'tenant-key\0acme')).rejects.toBeInstanceOf(UnknownMasterKeyError);
  });

  it('names keys without revealing them, and refuses keys of the wrong size', () => {
    const key = newKey();
    expect(masterKeyId(key)).toMatch(/^[0-9a-f]{16}$/u);
    expect(masterKeyId(key)).not.toContain(key.toString('hex').slice(0, 16));
    expect(() => new LocalKeyring([Buffer.alloc(16)])).toThrow(/32 bytes/u);
    expect(() => new LocalKeyring([])).toThrow(/at least one/u);
  });
});

describe('master keys from configuration', () => {
  const b64 = () => newKey().toString('base64');

  it('reads a list (first current), with comments and blank lines in a file', () => {
    const [a, b] = [b64(), b64()];
    expect(parseMasterKeys(`${a},${b}`, 'AGENTMESH_MASTER_KEY', /,/u).map((k) => k.toString('base64'))).toEqual([a, b]);
    const dir = mkdtempSync(join(tmpdir(), 'agentmesh-keys-'));
    dirs.push(dir);
    const file = join(dir, 'keys');
    writeFileSync(file, `# new key\n${a}\n\n# previous, until re-wrapped\n${b}  \n`);
    expect(readMasterKeyFile(file).map((k) => k.toString('base64'))).toEqual([a, b]);
  });

  it('refuses with a message that says what is wrong and never shows the key', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    expect(() => parseMasterKeys(short, 'AGENTMESH_MASTER_KEY', /,/u)).toThrow(/AGENTMESH_MASTER_KEY: key 1 is not base64 of 32 bytes \(make one with: openssl rand -base64 32\)/u);
    expect(() => parseMasterKeys('not base64!', 'AGENTMESH_MASTER_KEY', /,/u)).toThrow(MasterKeyError);
    expect(() => parseMasterKeys(' , ', 'AGENTMESH_MASTER_KEY', /,/u)).toThrow(/holds no key/u);
    try {
      parseMasterKeys(short, 'X', /,/u);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
    expect(() => readMasterKeyFile('/nonexistent/keys')).toThrow(/cannot read \/nonexistent\/keys/u);
  });

  it('makes a development key once, private to its owner, and reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentmesh-devkey-'));
    dirs.push(dir);
    const first = developmentMasterKey(dir);
    expect(first.created).toBe(true);
    expect(statSync(first.file!).mode & 0o777).toBe(0o600);
    expect(readFileSync(first.file!, 'utf8')).toMatch(/Never use it in production/u);
    const again = developmentMasterKey(dir);
    expect(again.created).toBe(false);
    expect(again.keys[0]!.equals(first.keys[0]!)).toBe(true);
    expect(developmentMasterKey(undefined).created).toBe(true);
  });
});
