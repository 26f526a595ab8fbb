import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { migrate } from '../../src/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../src/infrastructure/persistence/pglite-client.js';
import { MIGRATIONS } from '../../src/infrastructure/persistence/migrations/index.js';
import { pgliteTemplate, pgliteTemplateFile, schemaStamp } from '../../src/infrastructure/persistence/pglite-template.js';
import type { SqlClient } from '../../src/infrastructure/persistence/sql-client.js';

/** What initdb decides and a database started from the template must equal. */
const SETTINGS = `SELECT current_user AS "user", current_database() AS database, version() AS version,
  current_setting('server_encoding') AS encoding, (SELECT datcollate FROM pg_database WHERE datname = current_database()) AS collate,
  (SELECT datctype FROM pg_database WHERE datname = current_database()) AS ctype,
  current_setting('TimeZone') AS tz`;

const DATABASES = 'SELECT datname FROM pg_database ORDER BY datname';

/** What the migrations make: tables and their columns, indexes, constraints, triggers, functions, grants, rows of the schema's bookkeeping. */
const SCHEMA = `SELECT
  (SELECT json_agg(c ORDER BY c.table_name, c.ordinal_position) FROM (SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public') c) AS columns,
  (SELECT json_agg(indexdef ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
  (SELECT json_agg(pg_get_constraintdef(oid) || ' ' || conname ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace) AS constraints,
  (SELECT json_agg(pg_get_triggerdef(oid) ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal) AS triggers,
  (SELECT json_agg(proname || ' ' || md5(prosrc) ORDER BY proname) FROM pg_proc WHERE pronamespace = 'public'::regnamespace) AS functions,
  (SELECT json_agg(relname || ' ' || coalesce(relacl::text, '') ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace) AS grants,
  (SELECT json_agg(version || ' ' || name ORDER BY version) FROM schema_migrations) AS migrations,
  (SELECT json_agg(p) FROM audit_projection p) AS projection`;

/** Rows in each table of the schema: a template holds the migrations' rows and nothing else. */
async function rowCounts(db: Pick<SqlClient, 'query'>): Promise<Record<string, number>> {
  const { rows } = await db.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  const counts: Record<string, number> = {};
  for (const { tablename } of rows) counts[tablename] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${tablename}"`)).rows[0]!.n;
  return counts;
}

/** A PGlite that never saw the template, as the mesh's SQL client, so that migrate() runs on it. */
function bare(db: PGlite): SqlClient {
  const executor = (q: Pick<PGlite, 'query' | 'exec'>) => ({
    query: async (sql: unknown, params?: unknown[]) => ({ rows: (await q.query(typeof sql === 'string' ? sql : (sql as { text: string }).text, params)).rows }),
    exec: async (sql: string) => void (await q.exec(sql)),
  });
  return { ...executor(db), transaction: (work) => db.transaction((tx) => work(executor(tx) as never)), close: () => db.close() } as SqlClient;
}

describe('new embedded databases start from the build\'s initialised data directory', { timeout: 60_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'agentmesh-template-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());
  /** Whether each PGlite.create since the spy was set was given the template. */
  const spyOnCreate = () => {
    const create = vi.spyOn(PGlite, 'create');
    return () => create.mock.calls.map((call) => (call[1] as { loadDataDir?: Blob } | undefined)?.loadDataDir instanceof Blob);
  };

  it('the build made the template of the installed PGlite and of these migrations', async () => {
    expect(basename(pgliteTemplateFile()).endsWith(`-schema-${schemaStamp()}.tar`)).toBe(true);
    expect(basename(pgliteTemplateFile())).toMatch(/^pglite-template-\d+\.\d+\.\d+-schema-[0-9a-f]{16}\.tar$/u);
    // Code with one migration more, or one changed, looks for another template (and, without it, runs initdb and migrates).
    expect(schemaStamp([...MIGRATIONS, { version: 99, name: 'later', sql: 'SELECT 1' }])).not.toBe(schemaStamp());
    expect(schemaStamp(MIGRATIONS.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql} ` } : m)))).not.toBe(schemaStamp());
    expect(existsSync(pgliteTemplateFile())).toBe(true);
    expect(pgliteTemplate()?.length).toBeGreaterThan(1_000_000);
  });

  it('a database from the template is what initdb and the migrations make: same user, database, version, encoding, locale, time zone; same schema; without initdb\'s template databases', async () => {
    const initdb = await PGlite.create();
    const fromTemplate = await PgliteClient.open(undefined);
    try {
      expect((await fromTemplate.query(SETTINGS)).rows[0]).toEqual((await initdb.query(SETTINGS)).rows[0]);
      expect((await initdb.query(DATABASES)).rows).toEqual([{ datname: 'postgres' }, { datname: 'template0' }, { datname: 'template1' }]);
      expect((await fromTemplate.query(DATABASES)).rows).toEqual([{ datname: 'postgres' }]);
      expect(await migrate(bare(initdb))).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(fromTemplate)).toEqual([]);
      const expected = (await initdb.query<Record<string, unknown>>(SCHEMA)).rows[0]!;
      expect(Object.values(expected).every((v) => Array.isArray(v) && v.length > 0)).toBe(true);
      expect((await fromTemplate.query(SCHEMA)).rows[0]).toEqual(expected);
      const counts = await rowCounts(bare(initdb));
      expect(Object.keys(counts).length).toBeGreaterThan(10);
      expect(await rowCounts(fromTemplate)).toEqual(counts);
    } finally {
      await initdb.close();
      await fromTemplate.close();
    }
  });

  it('a new directory starts from it, written with Node\'s file calls, and opens again as itself (the template is for new directories only)', async () => {
    const dir = join(scratch, 'data');
    const templated = spyOnCreate();
    const db = await PgliteClient.open(dir);
    // Migrated already: the template, not initdb.
    expect(await migrate(db)).toEqual([]);
    await db.query('CREATE TABLE kept (v text)');
    await db.query("INSERT INTO kept VALUES ('here')");
    await db.close();
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    const again = await PgliteClient.open(dir);
    // Neither open had PGlite load the template: the first wrote it into the directory, then opened that.
    expect(templated()).toEqual([false, false]);
    try {
      expect((await again.query('SELECT v FROM kept')).rows).toEqual([{ v: 'here' }]);
      expect(await migrate(again)).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it("keeps a data directory its owner's alone (0700 and 0600, as PostgreSQL requires), and mends one that is not", async () => {
    const dir = join(scratch, 'owner-only');
    const shared = () => [dir, ...readdirSync(dir, { recursive: true }).map((name) => join(dir, String(name)))].filter((path) => (statSync(path).mode & 0o077) !== 0);
    await (await PgliteClient.open(dir)).close();
    expect(shared()).toEqual([]);
    // As an earlier build left it: PGlite's files world-writable.
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'PG_VERSION'), 0o666);
    expect(shared()).toHaveLength(2);
    await (await PgliteClient.open(dir)).close();
    expect(shared()).toEqual([]);
  });

  it('databases in memory from the same template are apart', async () => {
    const templated = spyOnCreate();
    const [a, b] = await Promise.all([PgliteClient.open(undefined), PgliteClient.open(undefined)]);
    expect(templated()).toEqual([true, true]);
    try {
      await a.query('CREATE TABLE only_in_a (n int)');
      expect((await b.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_a'")).rows).toEqual([{ n: 0 }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
