import { describe, expect, it } from 'vitest';
import { AuditLogger } from '../../../src/application/audit-logger.js';
import { silentLogger } from '../../../src/application/logger.js';
import type { ApiKeyRepository, AuditStore, TenantRepository } from '../../../src/application/ports.js';
import { EnvelopePersonalDataVault } from '../../../src/infrastructure/security/audit-personal-data.js';
import { newKey } from '../../../src/infrastructure/security/secrets/aes-gcm.js';
import { EnvelopeVault } from '../../../src/infrastructure/security/secrets/envelope-vault.js';
import { LocalKeyring } from '../../../src/infrastructure/security/secrets/local-kms.js';
import { keysInMemory } from '../../support/keys-in-memory.js';
import { AuditAction, AuditStatus, UnavailableError, type AuditEntry, type AuditRecord } from '../../../src/domain/index.js';

/** An audit store that keeps entries in a list, with a queue load and failures set by the test. */
function listStore(state: { load: number; failing: boolean; entries: AuditRecord[] }): AuditStore {
  return {
    load: () => state.load,
    append: async (records) => {
      if (state.failing) throw new UnavailableError('down');
      state.entries.push(...records);
      return records.map((r, i) => ({ ...r, id: `e${i}`, seq: i + 1, at: 0, prevHash: '', hash: '' }) as AuditEntry);
    },
    query: async () => ({ items: [] }),
    verify: async () => ({ intact: true, signaturesTrusted: false, entries: 0, millis: 0, chains: [] }),
    retention: async () => undefined,
    setRetention: async () => {},
    tenantsWithRetention: async () => [],
    prune: async () => undefined,
    evidence: async () => ({ counts: [], distinctKeys: 0, deniedByKey: [], securityByDay: [], processing: [], keyAndAdminEvents: [], head: undefined, checkpoint: undefined }),
  };
}

const personalVault = () => new EnvelopePersonalDataVault(new EnvelopeVault(new LocalKeyring([newKey()]), keysInMemory(), { now: () => 0 }, { purpose: 'audit-subject-key' }));

const failure: AuditRecord = { tenantId: 'default', actor: { type: 'anonymous' }, action: AuditAction.AUTH_FAILURE, resourceType: 'api_key', status: AuditStatus.DENIED, sourceIp: '10.0.0.9' };

describe('AuditLogger.logAnonymous', () => {
  it('records failed authentications while the log has room, and drops (and counts) them past half the queue or on failure, without throwing', async () => {
    const state = { load: 0.1, failing: false, entries: [] as AuditRecord[] };
    const logger = new AuditLogger(listStore(state), silentLogger, {} as ApiKeyRepository, { now: () => 0 }, {} as TenantRepository, personalVault());
    await logger.logAnonymous(failure);
    expect(state.entries).toHaveLength(1);
    state.load = 0.6;
    await logger.logAnonymous(failure);
    expect(state.entries).toHaveLength(1);
    state.load = 0;
    state.failing = true;
    await expect(logger.logAnonymous(failure)).resolves.toBeUndefined();
    expect(logger.anonymousDropped).toBe(2);
  });
});

describe('AuditLogger and personal data', () => {
  it("hands the store an entry's address, user agent and personal details sealed under its subject's key, never in clear; alerts see them in clear", async () => {
    const state = { load: 0, failing: false, entries: [] as AuditRecord[] };
    const considered: AuditEntry[] = [];
    const vault = personalVault();
    const logger = new AuditLogger(listStore(state), silentLogger, {} as ApiKeyRepository, { now: () => 0 }, {} as TenantRepository, vault, { consider: (e) => considered.push(...e) });
    const [entry] = await logger.logActions([
      { ...failure, actor: { type: 'key', keyId: 'k1', role: 'admin' }, action: AuditAction.API_KEY_CREATED, status: AuditStatus.SUCCESS, userAgent: 'curl/8', personalDetails: { name: 'Alice Example' } },
    ]);
    const stored = state.entries[0]!;
    expect(stored.sourceIp).toBeUndefined();
    expect(stored.userAgent).toBeUndefined();
    expect(stored.personalDetails).toBeUndefined();
    expect(stored.subjectId).toBe('k1');
    expect(stored.personal).toMatch(/^p1\.1\./u);
    expect(JSON.stringify(stored)).not.toMatch(/10\.0\.0\.9|curl|Alice/u);
    expect(entry).toMatchObject({ sourceIp: '10.0.0.9', userAgent: 'curl/8', personalDetails: { name: 'Alice Example' } });
    expect(considered[0]).toMatchObject({ sourceIp: '10.0.0.9' });
    expect(JSON.parse((await vault.open('default', 'k1', stored.personal!))!.toString())).toEqual({ sourceIp: '10.0.0.9', userAgent: 'curl/8', personalDetails: { name: 'Alice Example' } });
    expect(await vault.shred('default', 'k1')).toBe(1);
    expect(await vault.open('default', 'k1', stored.personal!)).toBeUndefined();
    // An anonymous caller's data is the subject 'anonymous'; an entry without personal data has no subject.
    await logger.logActions([failure, { ...failure, sourceIp: undefined }]);
    expect(state.entries[1]!.subjectId).toBe('anonymous');
    expect(state.entries[2]!.subjectId).toBeUndefined();
    expect(state.entries[2]!.personal).toBeUndefined();
  });
});
