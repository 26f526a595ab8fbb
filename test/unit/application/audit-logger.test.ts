import { describe, expect, it } from 'vitest';
import { AuditLogger } from '../../../src/application/audit-logger.js';
import { silentLogger } from '../../../src/application/logger.js';
import type { ApiKeyRepository, AuditStore, TenantRepository } from '../../../src/application/ports.js';
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

const failure: AuditRecord = { tenantId: 'default', actor: { type: 'anonymous' }, action: AuditAction.AUTH_FAILURE, resourceType: 'api_key', status: AuditStatus.DENIED, sourceIp: '10.0.0.9' };

describe('AuditLogger.logAnonymous', () => {
  it('records failed authentications while the log has room, and drops (and counts) them past half the queue or on failure, without throwing', async () => {
    const state = { load: 0.1, failing: false, entries: [] as AuditRecord[] };
    const logger = new AuditLogger(listStore(state), silentLogger, {} as ApiKeyRepository, { now: () => 0 }, {} as TenantRepository);
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
