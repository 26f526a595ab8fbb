import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Hex } from '../../application/sha256.js';
import { SCHEMA_MIGRATIONS_TABLE } from './migrate.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

/**
 * A new PGlite database runs initdb in WASM (1.5-3 s on 2 cores), then the migrations (0.8 s of
 * CPU), at every first start of a data directory and at every start in memory. The build keeps one
 * freshly initialised and migrated data directory as a tarball in `dist/`, and a new database loads
 * it instead. The tarball is named by the installed PGlite's version and by a digest of the
 * migrations it ran, so another PGlite, or code with other migrations (a source tree changed since
 * the build), never loads it: that database runs initdb and migrates as before.
 */

/** In `dist/`, found from this module in `dist/` or in `src/` alike (both are three levels below the package root). */
export const TEMPLATE_DIR = fileURLToPath(new URL('../../../dist/', import.meta.url));

/** The installed PGlite's version; its package's exports leave out its package.json, so it is read next to the entry point. */
function installedPgliteVersion(): string {
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  while (!existsSync(join(dir, 'package.json'))) {
    if (dirname(dir) === dir) throw new Error('cannot find the package.json of @electric-sql/pglite');
    dir = dirname(dir);
  }
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Run on the template after the migrations: the mesh uses the `postgres` database only, and
 * initdb's template0 and template1 are 600 of the template's 1,080 files. Every new data directory
 * is written file by file, and creating a file on a disk costs far more than its bytes: on this
 * project's machine a first start on disk spent 1.9 s of CPU with them and 0.9 s without.
 */
export const TEMPLATE_PREPARATION = [
  "UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')",
  'DROP DATABASE template1',
  'DROP DATABASE template0',
] as const;

/** A digest of the migrations (versions, names, statements), of their bookkeeping table and of the template's preparation: what a template holds. */
export function schemaStamp(migrations: readonly Migration[] = MIGRATIONS): string {
  return sha256Hex([SCHEMA_MIGRATIONS_TABLE, ...TEMPLATE_PREPARATION, ...migrations.map((m) => `${m.version}\0${m.name}\0${m.sql}`)].join('\0\0')).slice(0, 16);
}

export const TEMPLATE_PREFIX = 'pglite-template-';

let templateFile: string | undefined;

export function pgliteTemplateFile(): string {
  templateFile ??= join(TEMPLATE_DIR, `${TEMPLATE_PREFIX}${installedPgliteVersion()}-schema-${schemaStamp()}.tar`);
  return templateFile;
}

/**
 * The template for a new database, or undefined when the build made none for this code: the database
 * then runs initdb. Read in one call: a Blob of the file would read it in chunks and join them,
 * four times the time.
 */
export function pgliteTemplate(): Uint8Array | undefined {
  try {
    return readFileSync(pgliteTemplateFile());
  } catch {
    return undefined;
  }
}
