import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditAction, AuditStatus, type AuditRecord } from '../../../src/domain/index.js';
import { migrate } from '../../../src/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../../src/infrastructure/persistence/pglite-client.js';
import { verifyAuditLog } from '../../../src/infrastructure/security/audit-verifier.js';
import { DEFAULT_AUDIT_STORE_OPTIONS, SqlAuditStore } from '../../../src/infrastructure/security/sql-audit-store.js';
import { systemClock } from '../../../src/infrastructure/system/system-clock.js';
import { UuidV7Generator } from '../../../src/infrastructure/system/uuid-v7.js';

const ENTRIES = 40;
/** Segments of 7: entries 1-7, 8-14, 15-21, ... */
const SEGMENT = 7;

const record = (tenantId: string, n: number): AuditRecord => ({
  tenantId,
  at: 1_700_000_000_000 + n * 1000,
  actor: { type: 'key', keyId: 'k', role: 'admin' },
  action: AuditAction.AGENT_CREATED,
  resourceType: 'agent',
  resourceId: `a-${n}`,
  status: AuditStatus.SUCCESS,
  details: { n },
});

type Tamper = (db: PgliteClient, tenant: string, seq: number) => Promise<void>;

const tampers: Record<string, Tamper> = {
  altered: (db, t, seq) => db.exec(`UPDATE audit_log SET resource_id = 'forged' WHERE tenant_id = '${t}' AND seq = ${seq}`),
  removed: (db, t, seq) => db.exec(`DELETE FROM audit_log WHERE tenant_id = '${t}' AND seq = ${seq}`),
  // Two entries swap their places (seq numbers), each keeping its hashes.
  swapped: (db, t, seq) =>
    db.exec(
      `UPDATE audit_log SET seq = 999999999 WHERE tenant_id = '${t}' AND seq = ${seq};
       UPDATE audit_log SET seq = ${seq} WHERE tenant_id = '${t}' AND seq = ${seq + 1};
       UPDATE audit_log SET seq = ${seq + 1} WHERE tenant_id = '${t}' AND seq = 999999999;`,
    ),
  'segment removed': (db, t, seq) => db.exec(`DELETE FROM audit_log WHERE tenant_id = '${t}' AND seq BETWEEN ${seq} AND ${seq + SEGMENT - 1}`),
};

/** Entries at the joints of segments (first, last), and inside one. */
const positions = [1, 7, 8, 14, 15, 18, ENTRIES];

/**
 * Verification splits each chain into segments checked on their own and joined in order. Whatever
 * is done to the chain, the report must be the one a single pass over the whole chain gives: the
 * same first problem, the same counts.
 */
describe('audit verify in segments', () => {
  let db: PgliteClient;
  const cases: Array<{ tenant: string; tamper: string; seq: number }> = [];

  beforeAll(async () => {
    db = await PgliteClient.open(undefined);
    await migrate(db);
    const store = new SqlAuditStore(db, systemClock, new UuidV7Generator(), { ...DEFAULT_AUDIT_STORE_OPTIONS, soleWriter: true });
    const tenants = ['intact', 'far', 'unordered'];
    for (const tamper of Object.keys(tampers)) {
      for (const seq of positions) {
        if ((tamper === 'swapped' || tamper === 'segment removed') && seq === ENTRIES) continue;
        const tenant = `${tamper.replace(' ', '-')}-${seq}`;
        cases.push({ tenant, tamper, seq });
        tenants.push(tenant);
      }
    }
    for (const tenant of tenants) {
      const records = Array.from({ length: ENTRIES }, (_, n) => record(tenant, n));
      if (tenant === 'unordered') records[12] = { ...records[12]!, at: record(tenant, 0).at! + 10_000_000 };
      await store.append(records);
    }
    await db.exec("SET session_replication_role = 'replica'");
    for (const c of cases) await tampers[c.tamper]!(db, c.tenant, c.seq);
    // A row far past the rest: a forged seq must not make verification walk every empty stretch before it.
    await db.exec(`UPDATE audit_log SET seq = 1000000000000 WHERE tenant_id = 'far' AND seq = ${ENTRIES}`);
    await db.exec("SET session_replication_role = 'origin'");
  }, 60_000);
  afterAll(async () => db?.close());

  const inOnePass = (tenantId: string, range: { from?: number; to?: number } = {}) => verifyAuditLog(db, { tenantId, ...range, segmentEntries: 1_000_000 });
  const inSegments = (tenantId: string, range: { from?: number; to?: number } = {}) => verifyAuditLog(db, { tenantId, ...range, segmentEntries: SEGMENT });

  it('finds an intact chain intact, with the same counts', async () => {
    const segmented = await inSegments('intact');
    expect(segmented.chains[0]).toMatchObject({ entries: ENTRIES, firstSeq: 1, lastSeq: ENTRIES, headSeq: ENTRIES });
    expect(segmented.chains).toEqual((await inOnePass('intact')).chains);
  });

  it('reports the first problem a single pass reports, wherever it falls against the joints', async () => {
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases) {
      const segmented = (await inSegments(c.tenant)).chains[0]!;
      const single = (await inOnePass(c.tenant)).chains[0]!;
      expect(segmented.problem, `${c.tamper} at ${c.seq}`).toBeDefined();
      expect(segmented, `${c.tamper} at ${c.seq}`).toEqual(single);
    }
  });

  it('ends a range at the first entry at or after `to`, inside a segment or at its joint', async () => {
    for (const n of [3, 7, 8, 20]) {
      const to = record('intact', n).at!;
      const segmented = await inSegments('intact', { to });
      expect(segmented.chains[0]).toMatchObject({ entries: n, lastSeq: n });
      expect(segmented.chains).toEqual((await inOnePass('intact', { to })).chains);
    }
    // Times need not rise with seq (instances' clocks differ): entry 13 was stamped far later than those after it, and ends the range.
    const to = record('unordered', 20).at!;
    expect((await inSegments('unordered', { to })).chains[0]).toMatchObject({ entries: 12, lastSeq: 12 });
    expect((await inSegments('unordered', { to })).chains).toEqual((await inOnePass('unordered', { to })).chains);
    const from = record('intact', 9).at!;
    expect((await inSegments('intact', { from })).chains).toEqual((await inOnePass('intact', { from })).chains);
  });

  it('reports a forged far seq as the entries missing before it, without walking the gap entry by entry', async () => {
    const started = performance.now();
    const report = (await inSegments('far')).chains[0]!;
    expect(report.problem).toMatchObject({ seq: 1_000_000_000_000, reason: `entries ${ENTRIES} to 999999999999 are missing` });
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
