import { existsSync, openAsBlob, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

/**
 * A new PGlite database runs initdb in WASM: 1.5-3 s on 2 cores, at every first start of a data
 * directory and at every start in memory. The build keeps one freshly initialised data directory
 * as a tarball in `dist/`, and a new database loads it instead (0.4-0.5 s in memory, 0.6-1.4 s on disk). The tarball is made by
 * the installed PGlite and named by its version, so another version never loads it.
 */

/** In `dist/`, found from this module in `dist/` or in `src/` alike (both are three levels below the package root). */
const TEMPLATE_DIR = fileURLToPath(new URL('../../../dist/', import.meta.url));
const TEMPLATE_PREFIX = 'pglite-template-';

/** The installed PGlite's version; its package's exports leave out its package.json, so it is read next to the entry point. */
function installedPgliteVersion(): string {
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  while (!existsSync(join(dir, 'package.json'))) {
    if (dirname(dir) === dir) throw new Error('cannot find the package.json of @electric-sql/pglite');
    dir = dirname(dir);
  }
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

let templateFile: string | undefined;

export function pgliteTemplateFile(): string {
  templateFile ??= join(TEMPLATE_DIR, `${TEMPLATE_PREFIX}${installedPgliteVersion()}.tar`);
  return templateFile;
}

/** The template for a new database (read from the file as PGlite loads it), or undefined when the build made none: the database then runs initdb. */
export async function pgliteTemplate(): Promise<Blob | undefined> {
  try {
    return await openAsBlob(pgliteTemplateFile());
  } catch {
    return undefined;
  }
}

/** Makes the template of the installed PGlite unless it is there; removes those of other versions. Returns its path. */
export async function makePgliteTemplate(): Promise<string> {
  const file = pgliteTemplateFile();
  // Templates of other PGlite versions go; a build running beside this one may be writing its own partial file.
  for (const name of readdirSync(TEMPLATE_DIR)) {
    if (name.startsWith(TEMPLATE_PREFIX) && name.endsWith('.tar') && join(TEMPLATE_DIR, name) !== file) rmSync(join(TEMPLATE_DIR, name), { force: true });
  }
  if (existsSync(file)) return file;
  const db = await PGlite.create();
  try {
    const tarball = await db.dumpDataDir('none');
    // Written whole, then renamed: a build stopped half-way leaves no torn template behind.
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await tarball.arrayBuffer()));
    renameSync(partial, file);
  } finally {
    await db.close();
  }
  return file;
}
