import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoneError, secretPolicy, ValidationError } from '../../src/domain/index.js';
import type { SecretVersionWrite } from '../../src/application/ports.js';
import { secretAad } from '../../src/application/use-cases/manage-secrets.js';
import type { SqlClient } from '../../src/infrastructure/persistence/sql-client.js';
import { SqlSecretRepository } from '../../src/infrastructure/persistence/sql-secret-repository.js';
import { AUDIT_SUBJECT_KEYS, SqlKeyEncryptionKeyRepository, TENANT_KEYS } from '../../src/infrastructure/persistence/sql-key-encryption-key-repository.js';
import { EnvelopePersonalDataVault } from '../../src/infrastructure/security/audit-personal-data.js';
import { DecryptionError, newKey } from '../../src/infrastructure/security/secrets/aes-gcm.js';
import { EnvelopeVault } from '../../src/infrastructure/security/secrets/envelope-vault.js';
import { LocalKeyring, masterKeyId } from '../../src/infrastructure/security/secrets/local-kms.js';
import { systemClock } from '../../src/infrastructure/system/system-clock.js';
import { UuidV7Generator } from '../../src/infrastructure/system/uuid-v7.js';

const ids = new UuidV7Generator();

/**
 * The secret store (SQL repositories and the envelope vault over them), on PGlite and on
 * PostgreSQL: `open` gives two connections to one migrated database, as two instances would have.
 */
export function secretStoreContract(name: string, open: () => Promise<{ first: SqlClient; second: SqlClient; close(): Promise<void> }>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`secret store contract: ${name}`, () => {
    let dbs: { first: SqlClient; second: SqlClient; close(): Promise<void> };
    const master = [newKey(), newKey(), newKey()];
    let secrets: SqlSecretRepository;
    let otherSecrets: SqlSecretRepository;
    let keys: SqlKeyEncryptionKeyRepository;
    let vault: EnvelopeVault;
    let otherVault: EnvelopeVault;

    beforeAll(async () => {
      dbs = await open();
      secrets = new SqlSecretRepository(dbs.first);
      otherSecrets = new SqlSecretRepository(dbs.second);
      keys = new SqlKeyEncryptionKeyRepository(dbs.first, TENANT_KEYS);
      vault = new EnvelopeVault(new LocalKeyring([master[0]!]), keys, systemClock);
      otherVault = new EnvelopeVault(new LocalKeyring([master[0]!]), new SqlKeyEncryptionKeyRepository(dbs.second, TENANT_KEYS), systemClock);
    }, 60_000);
    afterAll(async () => dbs?.close());

    async function write(v: EnvelopeVault, tenantId: string, secretName: string, value: string): Promise<SecretVersionWrite> {
      const versionId = ids.newId();
      const sealed = await v.seal(tenantId, secretAad(tenantId, secretName, versionId), Buffer.from(value));
      return { tenantId, name: secretName, versionId, sealed, at: Date.now(), by: 'key-1' };
    }

    async function read(v: EnvelopeVault, repo: SqlSecretRepository, tenantId: string, secretName: string): Promise<string> {
      const current = (await repo.current(tenantId, secretName))!;
      return (await v.open(tenantId, secretAad(tenantId, secretName, current.versionId), current.sealed)).toString();
    }

    it('makes one tenant key when many first seals race, on two instances', async () => {
      await Promise.all(Array.from({ length: 10 }, (_, i) => write(i % 2 === 0 ? vault : otherVault, 't-race', 's', `v${i}`)));
      expect(await keys.latestVersion('t-race')).toBe(1);
      const { rows } = await dbs.first.query<{ n: number }>("SELECT count(*)::int AS n FROM tenant_keys WHERE tenant_id = 't-race'");
      expect(rows[0]!.n).toBe(1);
    });

    it('creates a secret, then versions it; readers get the newest value', async () => {
      const policy = secretPolicy(['deploy', 'build', 'deploy']);
      expect(policy.capabilities).toEqual(['build', 'deploy']);
      expect(await secrets.upsert(await write(vault, 't1', 'token', 'one'), policy, 'first')).toEqual({ version: 1, created: true });
      expect(await read(vault, secrets, 't1', 'token')).toBe('one');
      expect(await secrets.upsert(await write(vault, 't1', 'token', 'two'), secretPolicy(['*']), undefined)).toEqual({ version: 2, created: false });
      expect(await read(otherVault, otherSecrets, 't1', 'token')).toBe('two');
      const meta = (await secrets.get('t1', 'token'))!;
      expect(meta).toMatchObject({ name: 'token', currentVersion: 2, policy: { capabilities: ['*'] }, readable: true });
      expect(meta.description).toBeUndefined();
      expect(meta.versions.map((v) => v.version)).toEqual([2, 1]);
      expect(meta.versions[0]!.createdBy).toBe('key-1');
      expect(await secrets.addVersion(await write(vault, 't1', 'missing', 'x'))).toBeUndefined();
      expect(await secrets.get('t1', 'missing')).toBeUndefined();
    });

    it('numbers concurrent versions from two instances one after another, and keeps the newest ten', async () => {
      await secrets.upsert(await write(vault, 't2', 'rotating', 'v0'), secretPolicy(['x']), undefined);
      const writes = await Promise.all(Array.from({ length: 20 }, (_, i) => write(vault, 't2', 'rotating', `v${i + 1}`)));
      const added = await Promise.all(writes.map((w, i) => (i % 2 === 0 ? secrets : otherSecrets).addVersion(w)));
      expect(added.map((a) => a!.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
      const meta = (await secrets.get('t2', 'rotating'))!;
      expect(meta.currentVersion).toBe(21);
      expect(meta.versions.map((v) => v.version)).toEqual(Array.from({ length: 10 }, (_, i) => 21 - i));
      const value = await read(vault, secrets, 't2', 'rotating');
      const winner = added.findIndex((a) => a!.version === 21);
      expect(value).toBe(`v${winner + 1}`);
    });

    it("binds a value to its tenant, name and version: moved anywhere else, it does not open", async () => {
      await secrets.upsert(await write(vault, 't3', 'a', 'alpha'), secretPolicy(['*']), undefined);
      const current = (await secrets.current('t3', 'a'))!;
      await expect(vault.open('t3', secretAad('t3', 'b', current.versionId), current.sealed)).rejects.toBeInstanceOf(DecryptionError);
      await expect(vault.open('t3', secretAad('t3', 'a', ids.newId()), current.sealed)).rejects.toBeInstanceOf(DecryptionError);
      await write(vault, 't4', 'a', 'makes t4 a key');
      await expect(vault.open('t4', secretAad('t4', 'a', current.versionId), current.sealed)).rejects.toBeInstanceOf(DecryptionError);
      const flipped = Buffer.from(current.sealed.ciphertext, 'base64');
      flipped[flipped.length - 1]! ^= 1;
      await expect(vault.open('t3', secretAad('t3', 'a', current.versionId), { ...current.sealed, ciphertext: flipped.toString('base64') })).rejects.toBeInstanceOf(DecryptionError);
      expect(await secrets.current('t4', 'a')).toBeUndefined();
      expect(await secrets.get('t4', 'a')).toBeUndefined();
    });

    it('lists by name, a page at a time, and refuses a cursor it did not give', async () => {
      for (const n of ['c', 'a', 'b', 'd', 'e']) await secrets.upsert(await write(vault, 't5', n, n), secretPolicy(['*']), undefined);
      const first = await secrets.list('t5', { limit: 2 });
      expect(first.items.map((s) => s.name)).toEqual(['a', 'b']);
      const rest = await secrets.list('t5', { limit: 10, cursor: first.nextCursor! });
      expect(rest.items.map((s) => s.name)).toEqual(['c', 'd', 'e']);
      expect(rest.nextCursor).toBeUndefined();
      await expect(secrets.list('t5', { limit: 2, cursor: 'bm90IG1pbmU!' })).rejects.toBeInstanceOf(ValidationError);
    });

    it('deletes a secret with every version of it', async () => {
      expect(await secrets.delete('t5', 'c')).toBe(true);
      expect(await secrets.delete('t5', 'c')).toBe(false);
      expect(await secrets.current('t5', 'c')).toBeUndefined();
      const { rows } = await dbs.first.query<{ n: number }>("SELECT count(*)::int AS n FROM secret_versions WHERE tenant_id = 't5' AND name = 'c'");
      expect(rows[0]!.n).toBe(0);
    });

    it("crypto-shreds: a destroyed tenant key opens nothing again, stays destroyed, and is never deleted", async () => {
      await secrets.upsert(await write(vault, 't6', 'doomed', 'gone soon'), secretPolicy(['*']), undefined);
      expect(await read(otherVault, otherSecrets, 't6', 'doomed')).toBe('gone soon');
      expect(await vault.destroyTenantKeys('t6')).toBe(1);
      expect(await vault.destroyTenantKeys('t6')).toBe(0);
      // The other instance had the key cached: the destruction binds it all the same.
      await expect(read(otherVault, otherSecrets, 't6', 'doomed')).rejects.toBeInstanceOf(GoneError);
      expect((await secrets.get('t6', 'doomed'))!.readable).toBe(false);
      const { rows } = await dbs.first.query<{ wrapped_key: string | null; destroyed_at: unknown }>("SELECT wrapped_key, destroyed_at FROM tenant_keys WHERE tenant_id = 't6'");
      expect(rows).toEqual([{ wrapped_key: null, destroyed_at: expect.anything() }]);
      await expect(dbs.first.query("UPDATE tenant_keys SET wrapped_key = 'x', destroyed_at = NULL WHERE tenant_id = 't6'")).rejects.toThrow(/stays destroyed/u);
      await expect(dbs.first.query("DELETE FROM tenant_keys WHERE tenant_id = 't6'")).rejects.toThrow(/never deleted/u);
      // A new value gets a new key.
      await secrets.upsert(await write(vault, 't6', 'doomed', 'reborn'), secretPolicy(['*']), undefined);
      expect(await keys.latestVersion('t6')).toBe(2);
      expect(await read(otherVault, otherSecrets, 't6', 'doomed')).toBe('reborn');
      expect((await secrets.get('t6', 'doomed'))!.readable).toBe(true);
    });

    it('re-wraps tenant keys with a new master key without touching values; a key no configured master opens is counted', async () => {
      const tenant = 't7';
      const old = new EnvelopeVault(new LocalKeyring([master[1]!]), keys, systemClock);
      await secrets.upsert(await write(old, tenant, 'kept', 'survives rotation'), secretPolicy(['*']), undefined);
      const before = (await secrets.current(tenant, 'kept'))!;
      const strange = new EnvelopeVault(new LocalKeyring([master[2]!]), keys, systemClock);
      const skippedByStranger = await strange.rewrapAll();
      expect(skippedByStranger.rewrapped).toBe(0);
      expect(skippedByStranger.skipped).toBeGreaterThanOrEqual(1);
      expect(skippedByStranger.missingMasterKeys).toContain(masterKeyId(master[1]!));

      const rotating = new EnvelopeVault(new LocalKeyring([master[2]!, master[1]!, master[0]!]), keys, systemClock);
      const { rewrapped, skipped } = await rotating.rewrapAll(2);
      expect(skipped).toBe(0);
      expect(rewrapped).toBeGreaterThanOrEqual(1);
      expect(await rotating.rewrapAll()).toEqual({ rewrapped: 0, skipped: 0, missingMasterKeys: [] });
      const after = (await secrets.current(tenant, 'kept'))!;
      expect(after.sealed).toEqual(before.sealed);

      const onlyNew = new EnvelopeVault(new LocalKeyring([master[2]!]), keys, systemClock);
      expect(await read(onlyNew, secrets, tenant, 'kept')).toBe('survives rotation');
      const onlyOld = new EnvelopeVault(new LocalKeyring([master[1]!]), keys, systemClock);
      await expect(read(onlyOld, secrets, tenant, 'kept')).rejects.toThrow(/master key [0-9a-f]{16}, which this instance does not have/u);
    });

    it("seals audit personal data under a key this instance can open: one version per master key, a new one when the old is too old, and shredding reaches them all", async () => {
      let now = 1_000_000;
      const clock = { now: () => now };
      const subjectKeys = new SqlKeyEncryptionKeyRepository(dbs.first, AUDIT_SUBJECT_KEYS);
      const personalVault = (key: Buffer) =>
        new EnvelopePersonalDataVault(new EnvelopeVault(new LocalKeyring([key]), subjectKeys, clock, { purpose: 'audit-subject-key', ownKeysOnly: true, maxKeyAgeMs: 86_400_000 }));
      const a = personalVault(master[0]!);
      const b = personalVault(master[1]!);
      const byA = await a.seal('t8', 'key-1', Buffer.from('10.0.0.1'));
      const byB = await b.seal('t8', 'key-1', Buffer.from('10.0.0.2'));
      await b.seal('t8', 'key-1', Buffer.from('10.0.0.3'));
      await a.seal('t8', 'key-1', Buffer.from('10.0.0.4'));
      expect(await subjectKeys.latestVersion('t8/key-1')).toBe(2);
      expect((await a.open('t8', 'key-1', byA))!.toString()).toBe('10.0.0.1');
      await expect(a.open('t8', 'key-1', byB)).rejects.toThrow(/which this instance does not have/u);
      now += 86_400_000;
      await a.seal('t8', 'key-1', Buffer.from('a day later'));
      expect(await subjectKeys.latestVersion('t8/key-1')).toBe(3);
      // The subject of one tenant is not the same subject in another.
      await a.seal('t9', 'key-1', Buffer.from('elsewhere'));
      expect(await a.shred('t8', 'key-1')).toBe(3);
      expect(await a.open('t8', 'key-1', byA)).toBeUndefined();
      await expect(dbs.first.query("UPDATE audit_subject_keys SET wrapped_key = 'x', destroyed_at = NULL WHERE owner = 't8/key-1'")).rejects.toThrow(/stays destroyed/u);
      await expect(dbs.first.query("DELETE FROM audit_subject_keys WHERE owner = 't8/key-1'")).rejects.toThrow(/never deleted/u);
      await expect(dbs.first.query('TRUNCATE audit_subject_keys')).rejects.toThrow(/never deleted/u);
      await expect(dbs.first.query('TRUNCATE tenant_keys')).rejects.toThrow(/never deleted/u);
      expect(await subjectKeys.latestVersion('t9/key-1')).toBe(1);
      expect((await subjectKeys.current('t9/key-1'))!.wrappedKey).toBeDefined();
    });
  });
}
