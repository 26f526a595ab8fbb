import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditAction, AuditStatus, UnavailableError, type AuditRecord } from '../../src/domain/index.js';
import type { SqlClient } from '../../src/infrastructure/persistence/sql-client.js';
import { DEFAULT_AUDIT_STORE_OPTIONS, SqlAuditStore } from '../../src/infrastructure/security/sql-audit-store.js';
import { AuditCheckpointer } from '../../src/infrastructure/security/audit-checkpointer.js';
import { developmentSigningKey } from '../../src/infrastructure/security/audit-signing.js';
import { silentLogger } from '../../src/application/logger.js';
import { systemClock } from '../../src/infrastructure/system/system-clock.js';
import { UuidV7Generator } from '../../src/infrastructure/system/uuid-v7.js';

const record = (tenantId: string, n: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({
  tenantId,
  actor: { type: 'key', keyId: `key-${n % 3}`, role: 'admin' },
  action: n % 2 === 0 ? AuditAction.TASK_SUBMITTED : AuditAction.AGENT_CREATED,
  resourceType: n % 2 === 0 ? 'task' : 'agent',
  resourceId: `r-${n}`,
  status: AuditStatus.SUCCESS,
  details: { n },
  ...extra,
});

/**
 * The audit store contract, on PGlite and on PostgreSQL: `open` gives two connections (pools) to
 * one migrated database, as two mesh instances would have.
 */
export function auditStoreContract(
  name: string,
  open: () => Promise<{ first: SqlClient; second: SqlClient; close(): Promise<void> }>,
  options: { skip?: boolean; soleWriter?: boolean } = {},
): void {
  const soleWriter = options.soleWriter ?? false;
  describe.skipIf(options.skip ?? false)(`audit store contract: ${name}${soleWriter ? ', sole writer' : ''}`, () => {
    let dbs: { first: SqlClient; second: SqlClient; close(): Promise<void> };
    let a: SqlAuditStore;
    let b: SqlAuditStore;
    beforeAll(async () => {
      dbs = await open();
      a = new SqlAuditStore(dbs.first, systemClock, new UuidV7Generator(), { ...DEFAULT_AUDIT_STORE_OPTIONS, soleWriter });
      // A sole writer is alone by definition: its "second instance" is itself.
      b = soleWriter ? a : new SqlAuditStore(dbs.second, systemClock, new UuidV7Generator());
    });
    afterAll(async () => dbs?.close());

    it('gives each tenant its own chain, numbered from 1, each entry linked to the one before', async () => {
      const made = await a.append([record('t1', 0), record('t2', 1), record('t1', 2)]);
      expect(made.map((e) => [e.tenantId, e.seq])).toEqual([['t1', 1], ['t2', 1], ['t1', 2]]);
      expect(made[0]!.prevHash).toBe('0'.repeat(64));
      expect(made[2]!.prevHash).toBe(made[0]!.hash);
      const report = await a.verify({});
      expect(report).toMatchObject({ intact: true, entries: 3 });
    });

    it('appends from two instances at once into one unbroken sequence per tenant', async () => {
      const writes = Array.from({ length: 400 }, (_, n) => (n % 2 === 0 ? a : b).append([record(n % 4 === 0 ? 't3' : 't4', n)]));
      const made = (await Promise.all(writes)).flat();
      for (const tenant of ['t3', 't4']) {
        const seqs = made.filter((e) => e.tenantId === tenant).map((e) => e.seq).sort((x, y) => x - y);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      }
      const report = await b.verify({});
      expect(report.intact).toBe(true);
      expect(report.chains.find((c) => c.tenantId === 't3')).toMatchObject({ entries: 100, headSeq: 100 });
    });

    it('commits the appends of one tick together', async () => {
      const before = a.appended;
      const made = await Promise.all(Array.from({ length: 300 }, (_, n) => a.append([record('t5', n)])));
      expect(a.appended - before).toBe(300);
      expect(new Set(made.map((m) => m[0]!.at)).size).toBeLessThanOrEqual(3);
    });

    it('queries newest first, by filter and page, and only within the tenant', async () => {
      const page = await a.query('t3', { action: AuditAction.TASK_SUBMITTED }, { limit: 30 });
      expect(page.items).toHaveLength(30);
      expect(page.items.every((e) => e.tenantId === 't3' && e.action === 'TASK_SUBMITTED')).toBe(true);
      expect(page.items[0]!.seq).toBeGreaterThan(page.items[29]!.seq);
      const next = await a.query('t3', { action: AuditAction.TASK_SUBMITTED }, { limit: 100, cursor: page.nextCursor! });
      expect(next.items.length + 30).toBe(100);
      expect(next.nextCursor).toBeUndefined();
      expect((await a.query('t3', { actorKeyId: 'key-1', resourceType: 'task' }, { limit: 500 })).items.every((e) => e.actor.keyId === 'key-1')).toBe(true);
      expect((await a.query('t3', { resourceId: 'r-4' }, { limit: 5 })).items.map((e) => e.resourceId)).toEqual(['r-4']);
      expect((await a.query('nobody', {}, { limit: 5 })).items).toEqual([]);
      expect((await a.query('t3', { from: Date.now() + 60_000 }, { limit: 5 })).items).toEqual([]);
    });

    it('stores details redacted and bounded, and hashes what it stored', async () => {
      const [entry] = await a.append([record('t6', 1, { details: { token: 'secret-value', text: 'x'.repeat(5000), nul: 'a\u0000b' }, userAgent: 'u'.repeat(1000) })]);
      expect(entry!.details).toMatchObject({ token: '[REDACTED]', nul: 'ab' });
      expect(entry!.userAgent!.length).toBeLessThanOrEqual(257);
      const [back] = (await a.query('t6', {}, { limit: 1 })).items;
      expect(back).toEqual(entry);
      expect((await a.verify({ tenantId: 't6' })).intact).toBe(true);
    });

    it('writes an entry alone (its own statement) and entries together alike: read back as written, one chain', async () => {
      const bare: AuditRecord = { tenantId: 't6b', actor: { type: 'system' }, action: AuditAction.CONFIG_CHANGED, resourceType: 'config', status: AuditStatus.SUCCESS };
      const rich = record('t6b', 3, { details: { nested: { list: [1, 'é', null, true] }, emoji: '\u{1F600}', quote: 'a"b\\c' }, sourceIp: '10.0.0.9', userAgent: 'ua', traceId: 'trace' });
      const alone = [...(await a.append([bare])), ...(await a.append([rich]))];
      const together = await a.append([bare, rich, record('t6b', 4)]);
      expect([...alone, ...together].map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      const back = (await a.query('t6b', {}, { limit: 10 })).items.reverse();
      expect(back).toEqual([...alone, ...together]);
      expect(back[0]).not.toHaveProperty('details');
      expect((await b.verify({ tenantId: 't6b' })).chains[0]).toMatchObject({ entries: 5, headSeq: 5 });
    });

    it('refuses appends past its bound with UnavailableError, and loses none it took', async () => {
      const small = new SqlAuditStore(dbs.first, systemClock, new UuidV7Generator(), { maxBatch: 10, maxPending: 20, soleWriter });
      const taken = small.append(Array.from({ length: 15 }, (_, n) => record('t7', n)));
      await expect(small.append(Array.from({ length: 10 }, (_, n) => record('t7', n)))).rejects.toBeInstanceOf(UnavailableError);
      expect(await taken).toHaveLength(15);
      expect((await small.verify({ tenantId: 't7' })).chains[0]).toMatchObject({ entries: 15, headSeq: 15 });
    });

    it('commits entries appended in a transaction with the rest of it, or not at all', async () => {
      await expect(
        a.transaction(async (tx, append) => {
          await append([record('t8', 1)]);
          await tx.query('SELECT 1/0');
        }),
      ).rejects.toThrow(/division by zero/u);
      const [made] = await a.transaction(async (_tx, append) => append([record('t8', 2)]));
      expect(made!.seq).toBe(1);
      await a.append([record('t8', 3)]);
      expect((await a.verify({ tenantId: 't8' })).chains[0]).toMatchObject({ entries: 2, headSeq: 2 });
    });

    it("isolates a record the database refuses: the others of its batch are written", async () => {
      const bad = a.append([record('t9', 1, { at: Number.NaN })]);
      const good = a.append([record('t9', 2)]);
      await expect(bad).rejects.toBeInstanceOf(UnavailableError);
      expect((await good)[0]!.seq).toBe(1);
      expect((await a.verify({ tenantId: 't9' })).intact).toBe(true);
    });

    it('verifies a range by seq, however the times of entries run, and ends it at the first entry at or after `to`', async () => {
      await a.append([record('t10', 1, { at: 10_000 }), record('t10', 2, { at: 9_000 }), record('t10', 3, { at: 10_000 }), record('t10', 4, { at: 20_000 })]);
      const ranged = await a.verify({ tenantId: 't10', to: 9_500 });
      expect(ranged.chains[0]).toMatchObject({ entries: 0 });
      expect(ranged.intact).toBe(true);
      const wider = await a.verify({ tenantId: 't10', to: 15_000 });
      expect(wider.chains[0]).toMatchObject({ entries: 3, lastSeq: 3 });
      expect(wider.intact).toBe(true);
    });

    it('reports a head moved back behind its chain', async () => {
      await a.append([record('t11', 1), record('t11', 2)]);
      await dbs.first.query("UPDATE audit_heads SET seq = 1 WHERE tenant_id = 't11'");
      const report = await a.verify({ tenantId: 't11' });
      expect(report.intact).toBe(false);
      expect(report.chains[0]!.problem!.reason).toMatch(/behind its last entry 2/u);
    });

    it('carries on when another writer appended to a chain (the CLI at the database)', async () => {
      await a.append([record('t12', 1)]);
      const other = new SqlAuditStore(dbs.second, systemClock, new UuidV7Generator());
      await other.append([record('t12', 2)]);
      const [next] = await a.append([record('t12', 3)]);
      expect(next!.seq).toBe(3);
      expect((await a.verify({ tenantId: 't12' })).intact).toBe(true);
    });

    it('prunes entries past the retention up to a signed checkpoint, and the shortened chain still verifies', async () => {
      const day = 86_400_000;
      const signer = developmentSigningKey(undefined).signer;
      const checkpointer = new AuditCheckpointer(dbs.first, signer, systemClock, silentLogger, 60_000);
      await a.append(Array.from({ length: 5 }, (_, n) => record('t13', n, { at: Date.now() - 3 * day })));
      await checkpointer.checkpoint();
      await a.append(Array.from({ length: 3 }, (_, n) => record('t13', n)));
      expect(await a.prune('t13')).toBeUndefined();
      await a.setRetention('t13', 1, Date.now());
      expect(await a.retention('t13')).toBe(1);
      expect(await a.prune('t13')).toEqual({ entries: 5, uptoSeq: 5 });
      expect(await a.prune('t13')).toBeUndefined();
      const report = await a.verify({ tenantId: 't13' });
      expect(report.intact).toBe(true);
      expect(report.chains[0]).toMatchObject({ prunedUpTo: 5, firstSeq: 6, lastSeq: 8, entries: 3 });
      await expect(dbs.first.query("DELETE FROM audit_log WHERE tenant_id = 't13'")).rejects.toThrow(/append-only/u);
      await a.setRetention('t13', undefined, Date.now());
      expect(await a.retention('t13')).toBeUndefined();
    });

    it('reports a prefix removed without a prune', async () => {
      await a.append(Array.from({ length: 4 }, (_, n) => record('t14', n)));
      await dbs.first.transaction(async (tx) => {
        await tx.exec("SET LOCAL session_replication_role = 'replica'");
        await tx.query("DELETE FROM audit_log WHERE tenant_id = 't14' AND seq <= 2");
      });
      const report = await a.verify({ tenantId: 't14' });
      expect(report.intact).toBe(false);
      expect(report.chains[0]!.problem!.reason).toBe('entries 1 to 2 are missing');
    });

    it('refuses UPDATE, DELETE and TRUNCATE of the log by anyone, the owner included', async () => {
      await expect(dbs.first.query("UPDATE audit_log SET status = 'failure'")).rejects.toThrow(/append-only/u);
      await expect(dbs.first.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/u);
      await expect(dbs.first.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/u);
      expect((await a.verify({ tenantId: 't3' })).intact).toBe(true);
    });
  });
}
