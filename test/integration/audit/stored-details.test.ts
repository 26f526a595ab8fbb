import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditAction, AuditStatus, type AuditEntry, type AuditRecord } from '../../../src/domain/index.js';
import { migrate } from '../../../src/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../../src/infrastructure/persistence/pglite-client.js';
import { canonicalEntryReference, GENESIS_HASH } from '../../../src/infrastructure/security/audit-chain.js';
import { sha256Hex } from '../../../src/application/sha256.js';
import { rowOf } from '../../../src/infrastructure/security/audit-rows.js';
import { canonicalJson } from '../../../src/application/canonical-json.js';
import { verifyAuditLog } from '../../../src/infrastructure/security/audit-verifier.js';
import { DEFAULT_AUDIT_STORE_OPTIONS, insertEntries, SqlAuditStore } from '../../../src/infrastructure/security/sql-audit-store.js';
import { systemClock } from '../../../src/infrastructure/system/system-clock.js';
import { UuidV7Generator } from '../../../src/infrastructure/system/uuid-v7.js';

const record = (tenantId: string, n: number): AuditRecord => ({
  tenantId,
  actor: { type: 'key', keyId: 'k', role: 'admin' },
  action: AuditAction.AGENT_CREATED,
  resourceType: 'agent',
  resourceId: `a-${n}`,
  status: AuditStatus.SUCCESS,
  details: { zeta: n, alpha: { y: [1, 'two'], b: null }, é: 'ü' },
});

/**
 * The log stores each entry's details as their canonical text, which verification hashes as it
 * reads it; rows an earlier build wrote hold the details as they were sent, and must verify as well.
 */
describe('the details the audit log stores', () => {
  let db: PgliteClient;
  let store: SqlAuditStore;
  const ids = new UuidV7Generator();

  /**
   * Writes a chain by hand: each row's details stored as `texts` says (`JSON.stringify` of them is
   * what earlier builds stored; their canonical text is what this one stores), each entry hashed as
   * every build did, over the canonical form of the whole entry (the RFC 8785 library's own).
   */
  async function writeChain(tenantId: string, details: Array<Record<string, unknown>>, stored: Array<'sent' | 'canonical'>): Promise<AuditEntry[]> {
    let prevHash = GENESIS_HASH;
    const entries = details.map((d, i) => {
      const entry: AuditEntry = { ...record(tenantId, i), details: d, id: ids.newId(), seq: i + 1, at: 1_700_000_000_000 + i, prevHash, hash: '' };
      entry.hash = sha256Hex(`agentmesh/audit-entry/v1\n${prevHash}\n${canonicalEntryReference(entry)}`);
      prevHash = entry.hash;
      return entry;
    });
    const rows = entries.map((entry, i) => ({ ...rowOf(entry), details: stored[i] === 'sent' ? JSON.stringify(details[i]) : canonicalJson(details[i]) }));
    await db.query(insertEntries('audit_log'), [JSON.stringify(rows)]);
    await db.query('INSERT INTO audit_heads (tenant_id, seq, hash, updated_at) VALUES ($1, $2, $3, 0)', [tenantId, entries.length, prevHash]);
    return entries;
  }

  beforeAll(async () => {
    db = await PgliteClient.open(undefined);
    await migrate(db);
    store = new SqlAuditStore(db, systemClock, ids, { ...DEFAULT_AUDIT_STORE_OPTIONS, soleWriter: true });
  }, 60_000);
  afterAll(async () => db?.close());

  const storedTexts = async (tenantId: string) =>
    (await db.query<{ details: string }>('SELECT details::text AS details FROM audit_log WHERE tenant_id = $1 ORDER BY seq', [tenantId])).rows.map((r) => r.details);

  it('is the canonical text (RFC 8785), whether an entry is appended alone or in a batch', async () => {
    await store.append([record('one', 0)]);
    await store.append([record('batch', 0), record('batch', 1)]);
    const canonical = (n: number) => `{"alpha":{"b":null,"y":[1,"two"]},"zeta":${n},"é":"ü"}`;
    expect(await storedTexts('one')).toEqual([canonical(0)]);
    expect(await storedTexts('batch')).toEqual([canonical(0), canonical(1)]);
    expect((await verifyAuditLog(db, {})).intact).toBe(true);
    // Queries still read the details as an object.
    const page = await store.query('batch', {}, { limit: 5 });
    expect(page.items.map((e) => e.details)).toEqual([record('batch', 1).details, record('batch', 0).details]);
  });

  /** Details whose JSON.stringify differs from their canonical text (key order, a number's form). */
  const detailsOf = (n: number) => ({ zeta: n, alpha: { y: [1, 'two', 1e21], b: null }, é: 'ü', amount: 100 });

  it('verifies rows an earlier build wrote (JSON.stringify of the details), mixed with canonical ones', async () => {
    const stored = ['sent', 'sent', 'canonical', 'canonical', 'sent', 'canonical', 'sent', 'sent'] as const;
    const details = stored.map((_, n) => detailsOf(n));
    await writeChain('legacy', details, [...stored]);
    expect(JSON.stringify(details[0])).not.toBe(canonicalJson(details[0]));
    expect(await storedTexts('legacy')).toEqual(details.map((d, i) => (stored[i] === 'sent' ? JSON.stringify(d) : canonicalJson(d))));
    // Runs of each kind, so that verification switches between reading them as stored and in canonical form.
    const report = await verifyAuditLog(db, { tenantId: 'legacy', segmentEntries: 3 });
    expect(report.chains[0]).toMatchObject({ entries: 8, lastSeq: 8 });
    expect(report.intact).toBe(true);
  });

  it('names a row whose stored details were altered, in meaning or only in form, wherever it falls in a run', async () => {
    const canonical = canonicalJson(detailsOf(2))!;
    const sent = JSON.stringify(detailsOf(2));
    // Texts that PostgreSQL reads differently or that no build wrote, though JSON.parse may make the same object of them.
    const forgeries = {
      'another value': canonical.replace('"zeta":2', '"zeta":99'),
      'more digits': canonical.replace('"amount":100', '"amount":100.0000000000000000001'),
      'a key twice': canonical.replace('"amount":100', '"amount":999999,"amount":100'),
      'spaces': canonical.replace('"amount":100', '"amount" : 100'),
      'an escape': canonical.replace('"ü"', '"\\u00fc"'),
      'legacy text, spaced': sent.replace('"zeta":2', '"zeta": 2'),
      'not an object': '[1]',
    };
    const runs: Record<string, Array<'sent' | 'canonical'>> = {
      'after-legacy': ['sent', 'sent', 'sent'],
      'after-new': ['canonical', 'canonical', 'canonical'],
      'legacy-after-new': ['canonical', 'sent', 'sent'],
      'new-after-legacy': ['sent', 'canonical', 'canonical'],
    };
    let checked = 0;
    for (const [run, stored] of Object.entries(runs)) {
      for (const [forgery, text] of Object.entries(forgeries)) {
        const tenant = `${run}/${forgery}`;
        const entries = await writeChain(tenant, [detailsOf(0), detailsOf(1), detailsOf(2)], stored);
        await db.exec("SET session_replication_role = 'replica'");
        await db.query('UPDATE audit_log SET details = $1::json WHERE tenant_id = $2 AND seq = 3', [text, tenant]);
        await db.exec("SET session_replication_role = 'origin'");
        const chain = (await verifyAuditLog(db, { tenantId: tenant })).chains[0]!;
        expect(chain.problem, tenant).toEqual({ entryId: entries[2]!.id, seq: 3, reason: 'was altered (its content does not hash to its hash)' });
        checked++;
      }
    }
    expect(checked).toBe(28);
  });
});
