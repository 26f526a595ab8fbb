import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Makes a directory and everything in it its owner's alone (directories 0700, files 0600), as
 * PostgreSQL requires of its data directory. PGlite writes the files of a new database with the
 * modes of its in-memory file system, 0666: any local user could have rewritten the store.
 */
export function restrictToOwner(dir: string): void {
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath ?? entry.path, entry.name);
    if (entry.isDirectory()) chmodSync(path, 0o700);
    else if (entry.isFile()) chmodSync(path, 0o600);
  }
}
