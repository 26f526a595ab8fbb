// Run by `npm run build`: the initialised and migrated PGlite data directory that new embedded databases load (see pglite-template.ts).
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from './migrate.js';
import { PgliteClient } from './pglite-client.js';
import { pgliteTemplateFile, TEMPLATE_DIR, TEMPLATE_PREFIX, TEMPLATE_PREPARATION } from './pglite-template.js';

/** Makes the template of the installed PGlite and these migrations unless it is there; removes any other. Returns its path. */
async function makePgliteTemplate(): Promise<string> {
  const file = pgliteTemplateFile();
  // Other templates go (another PGlite, other migrations); a build running beside this one may be writing its own partial file.
  for (const name of readdirSync(TEMPLATE_DIR)) {
    if (!name.startsWith(TEMPLATE_PREFIX)) continue;
    const path = join(TEMPLATE_DIR, name);
    if (name.endsWith('.tar') && path !== file) rmSync(path, { force: true });
    // A build killed while writing left its partial file; one younger than a minute may still be written.
    else if (name.endsWith('.partial') && Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 60_000) rmSync(path, { force: true });
  }
  if (existsSync(file)) return file;
  // No template of this name yet, so this database runs initdb.
  const db = await PgliteClient.open(undefined);
  try {
    await migrate(db);
    for (const statement of TEMPLATE_PREPARATION) await db.exec(statement);
    const tarball = await db.dumpDataDir();
    // Written whole, then renamed: a build stopped half-way leaves no torn template behind.
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await tarball.arrayBuffer()));
    renameSync(partial, file);
  } finally {
    await db.close();
  }
  return file;
}

const started = performance.now();
const file = await makePgliteTemplate();
process.stdout.write(`PGlite template: ${file} (${Math.round(performance.now() - started)} ms)\n`);
