import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { migrate } from '../../src/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../src/infrastructure/persistence/pglite-client.js';
import { pgliteTemplate, pgliteTemplateFile } from '../../src/infrastructure/persistence/pglite-template.js';

/** What initdb decides and a database started from the template must equal. */
const SETTINGS = `SELECT current_user AS "user", current_database() AS database, version() AS version,
  current_setting('server_encoding') AS encoding, (SELECT datcollate FROM pg_database WHERE datname = current_database()) AS collate,
  (SELECT datctype FROM pg_database WHERE datname = current_database()) AS ctype,
  current_setting('TimeZone') AS tz, (SELECT count(*)::int FROM pg_database) AS databases, (SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public') AS tables`;

describe('new embedded databases start from the build\'s initialised data directory', { timeout: 60_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'agentmesh-template-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());
  /** Whether each PGlite.create since the spy was set was given the template. */
  const spyOnCreate = () => {
    const create = vi.spyOn(PGlite, 'create');
    return () => create.mock.calls.map((call) => (call[1] as { loadDataDir?: Blob } | undefined)?.loadDataDir instanceof Blob);
  };

  it('the build made the template of the installed PGlite', async () => {
    expect(basename(pgliteTemplateFile())).toMatch(/^pglite-template-\d+\.\d+\.\d+\.tar$/u);
    expect(existsSync(pgliteTemplateFile())).toBe(true);
    expect((await pgliteTemplate())?.size).toBeGreaterThan(1_000_000);
  });

  it('a database from the template is what initdb makes: same user, database, version, encoding, locale, time zone; no tables', async () => {
    const initdb = await PGlite.create();
    const fromTemplate = await PgliteClient.open(undefined);
    try {
      const expected = (await initdb.query(SETTINGS)).rows[0];
      expect((await fromTemplate.query(SETTINGS)).rows[0]).toEqual(expected);
      expect(expected).toMatchObject({ tables: 0 });
    } finally {
      await initdb.close();
      await fromTemplate.close();
    }
  });

  it('a new directory starts from it, migrates, and opens again as itself (the template is for new directories only)', async () => {
    const dir = join(scratch, 'data');
    const templated = spyOnCreate();
    const db = await PgliteClient.open(dir);
    await migrate(db);
    await db.query('CREATE TABLE kept (v text)');
    await db.query("INSERT INTO kept VALUES ('here')");
    await db.close();
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    const again = await PgliteClient.open(dir);
    expect(templated()).toEqual([true, false]);
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
