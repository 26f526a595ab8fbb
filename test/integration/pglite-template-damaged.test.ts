import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { migrate } from '../../src/infrastructure/persistence/migrate.js';
import { MIGRATIONS } from '../../src/infrastructure/persistence/migrations/index.js';
import { PgliteClient } from '../../src/infrastructure/persistence/pglite-client.js';

/** The build's template, cut in half: what a disk that filled up, or a hand in dist/, could leave. */
vi.mock('../../src/infrastructure/persistence/pglite-template.js', async (original) => {
  const real = await original<typeof import('../../src/infrastructure/persistence/pglite-template.js')>();
  const bytes = readFileSync(real.pgliteTemplateFile());
  return { ...real, pgliteTemplate: () => bytes.subarray(0, bytes.length / 2) };
});

describe('a damaged template', { timeout: 60_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'agentmesh-damaged-template-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('does not stop a new database on disk: it runs initdb, and what was in the directory stays', async () => {
    const dir = join(scratch, 'data');
    // A file of the user's, there before the database.
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const db = await PgliteClient.open(dir);
    try {
      expect(await migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
      await db.query("INSERT INTO schema_migrations (version, name) VALUES (1000, 'probe')");
    } finally {
      await db.close();
    }
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    const again = await PgliteClient.open(dir);
    try {
      expect((await again.query('SELECT name FROM schema_migrations WHERE version = 1000')).rows).toEqual([{ name: 'probe' }]);
    } finally {
      await again.close();
    }
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
  });

  it('does not stop a new database in memory', async () => {
    const db = await PgliteClient.open(undefined);
    try {
      expect(await migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await db.close();
    }
  });
});
