import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedVacuum, type EmbeddedVacuumOptions, type VacuumReport } from '../../src/infrastructure/persistence/embedded-vacuum.js';
import { openEmbeddedStore, type Store } from '../../src/infrastructure/persistence/embedded-store.js';
import { PgliteClient } from '../../src/infrastructure/persistence/pglite-client.js';

async function deadRows(db: PgliteClient, table: string): Promise<number> {
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query<{ dead: number }>('SELECT n_dead_tup::int AS dead FROM pg_stat_user_tables WHERE relname = $1', [table]);
  return rows[0]?.dead ?? 0;
}

/** `rows` rows of `table`, each updated twice: 2 x rows dead. */
async function churn(db: PgliteClient, table: string, rows: number): Promise<void> {
  await db.exec(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id integer PRIMARY KEY, n integer)`);
  await db.query(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(1, $1::integer) g`, [rows]);
  await db.exec(`UPDATE ${table} SET n = n + 1; UPDATE ${table} SET n = n + 1`);
  // Statistics reach pg_stat_user_tables at most once a second, unless a flush is asked for.
  await db.query('SELECT pg_stat_force_next_flush()');
  await db.query('SELECT 1');
}

describe('vacuum of the embedded store (PGlite has no autovacuum)', () => {
  let db: PgliteClient;
  let reports: VacuumReport[];
  let writes: number;
  const vacuumWith = (options: Partial<EmbeddedVacuumOptions> = {}) =>
    new EmbeddedVacuum(db, () => writes, { onVacuum: (r) => reports.push(r), onError: (e) => { throw e; } }, { checkEveryMs: 60_000, minDeadRows: 1_000, quietMs: 50, maxDeadRows: 50_000, ...options });

  beforeAll(async () => {
    db = await PgliteClient.open(undefined);
  });
  afterAll(async () => db.close());
  beforeEach(() => {
    reports = [];
    writes = 0;
  });

  it('vacuums and analyzes the tables with dead rows once the store is quiet', async () => {
    await churn(db, 'churned', 1_000);
    expect(await deadRows(db, 'churned')).toBe(2_000);
    await vacuumWith().check();
    expect(await deadRows(db, 'churned')).toBe(0);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ tables: expect.arrayContaining(['churned']), deadRows: 2_000, forced: false });
    const { rows } = await db.query<{ analyzed: boolean }>("SELECT last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = 'churned'");
    expect(rows[0]!.analyzed).toBe(true);
  });

  it('leaves a few dead rows, and waits while the store is writing, until they pass the bound', async () => {
    await churn(db, 'few', 100);
    await vacuumWith().check();
    expect(reports).toEqual([]);
    expect(await deadRows(db, 'few')).toBe(200);

    await churn(db, 'busy', 1_000);
    const writing = setInterval(() => writes++, 5);
    try {
      await vacuumWith().check();
      expect(reports).toEqual([]);
      await vacuumWith({ maxDeadRows: 2_000 }).check();
    } finally {
      clearInterval(writing);
    }
    expect(reports).toEqual([expect.objectContaining({ forced: true })]);
    expect(await deadRows(db, 'busy')).toBe(0);
  });

  it('stops at once while waiting for a quiet moment', async () => {
    await churn(db, 'waiting', 1_000);
    const vacuum = vacuumWith({ quietMs: 60_000 });
    const checking = vacuum.check();
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await vacuum.stop();
    await checking;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(reports).toEqual([]);
  });

  it('runs one vacuum at a time, and none once stopped', async () => {
    await churn(db, 'twice', 1_000);
    const vacuum = vacuumWith();
    const [a, b] = [vacuum.check(), vacuum.check()];
    expect(a).toBe(b);
    await a;
    expect(reports).toHaveLength(1);
    await churn(db, 'after', 1_000);
    await vacuum.stop();
    await vacuum.check();
    expect(reports).toHaveLength(1);
    expect(await deadRows(db, 'after')).toBe(2_000);
  });
});

describe('the embedded store', () => {
  it('vacuums the dead rows of its database on its own, and stops with the store', async () => {
    const reports: VacuumReport[] = [];
    const errors: unknown[] = [];
    const store: Store = await openEmbeddedStore(undefined, {
      vacuum: { onVacuum: (r) => reports.push(r), onError: (e) => errors.push(e), options: { checkEveryMs: 20, minDeadRows: 500, quietMs: 0, maxDeadRows: 1_000_000 } },
    });
    await churn(store.db as PgliteClient, 'rows_of_a_mesh', 300);
    await expect.poll(() => reports.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(reports[0]!.tables).toContain('rows_of_a_mesh');
    await store.close();
    const after = reports.length;
    // Checks every 20 ms until then: none runs on the closed database.
    await new Promise((r) => setTimeout(r, 200));
    expect(reports).toHaveLength(after);
    expect(errors).toEqual([]);
  });
});
