import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditAction, AuditStatus, type AuditEntry, type AuditRecord } from '../../../src/domain/index.js';
import { migrate } from '../../../src/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../../src/infrastructure/persistence/pglite-client.js';
import { entryHash, GENESIS_HASH } from '../../../src/infrastructure/security/audit-chain.js';
import { rowOf } from '../../../src/infrastructure/security/audit-rows.js';
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

  /** Writes a chain the way an earlier build did: each row's details in the text given, hashed over their meaning. */
  async function writeChain(tenantId: string, texts: string[]): Promise<AuditEntry[]> {
    let prevHash = GENESIS_HASH;
    const entries = texts.map((text, i) => {
      const entry: AuditEntry = { ...record(tenantId, i), details: JSON.parse(text) as Record<string, unknown>, id: ids.newId(), seq: i + 1, at: 1_700_000_000_000 + i, prevHash, hash: '' };
      entry.hash = entryHash(prevHash, entry);
      prevHash = entry.hash;
      return entry;
    });
    const rows = entries.map((entry, i) => ({ ...rowOf(entry), details: texts[i]! }));
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

  it('verifies rows an earlier build wrote, with the details as they were sent, mixed with canonical ones', async () => {
    const sent = (n: number) => `{ "zeta": ${n}, "alpha": {"y": [1, "two"], "b": null}, "é": "ü" }`;
    const canonical = (n: number) => `{"alpha":{"b":null,"y":[1,"two"]},"zeta":${n},"é":"ü"}`;
    // Runs of each kind, so that verification switches between reading them as stored and in canonical form.
    const texts = [sent(0), sent(1), canonical(2), canonical(3), sent(4), canonical(5), sent(6), sent(7)];
    await writeChain('legacy', texts);
    expect(await storedTexts('legacy')).toEqual(texts);
    const report = await verifyAuditLog(db, { tenantId: 'legacy', segmentEntries: 3 });
    expect(report.chains[0]).toMatchObject({ entries: 8, lastSeq: 8 });
    expect(report.intact).toBe(true);
  });

  it('names a row whose details were altered, stored in either form, wherever it falls in a run', async () => {
    const sent = (n: number) => `{"zeta": ${n}, "alpha": {"y": [1, "two"], "b": null}, "é": "ü"}`;
    const canonical = (n: number) => `{"alpha":{"b":null,"y":[1,"two"]},"zeta":${n},"é":"ü"}`;
    const cases = [
      { name: 'after-legacy', texts: [sent(0), sent(1), sent(2)], altered: 2, forged: sent(99) },
      { name: 'legacy-after-new', texts: [canonical(0), sent(1), canonical(2)], altered: 2, forged: sent(99) },
      { name: 'new-after-legacy', texts: [sent(0), canonical(1), sent(2)], altered: 2, forged: canonical(99) },
      { name: 'new-after-new', texts: [canonical(0), canonical(1), canonical(2)], altered: 2, forged: canonical(99) },
      { name: 'not-json-object', texts: [sent(0), sent(1), sent(2)], altered: 2, forged: '[1]' },
    ];
    for (const c of cases) {
      const entries = await writeChain(c.name, c.texts);
      await db.exec("SET session_replication_role = 'replica'");
      await db.query('UPDATE audit_log SET details = $1::json WHERE tenant_id = $2 AND seq = $3', [c.forged, c.name, c.altered]);
      await db.exec("SET session_replication_role = 'origin'");
      const chain = (await verifyAuditLog(db, { tenantId: c.name })).chains[0]!;
      expect(chain.problem, c.name).toEqual({ entryId: entries[c.altered - 1]!.id, seq: c.altered, reason: 'was altered (its content does not hash to its hash)' });
    }
  });
});
