import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

const BLOCK = 512;

/** A header field: text up to its first NUL. */
function field(header: Uint8Array, offset: number, length: number): string {
  const bytes = header.subarray(offset, offset + length);
  const end = bytes.indexOf(0);
  return Buffer.from(end === -1 ? bytes : bytes.subarray(0, end)).toString('utf8');
}

function octal(header: Uint8Array, offset: number, length: number, what: string): number {
  const text = field(header, offset, length).trim();
  if (!/^[0-7]+$/u.test(text)) throw new Error(`tar: the ${what} field is not an octal number`);
  return parseInt(text, 8);
}

const PAGE = 8192;
const ZERO_PAGE = new Uint8Array(PAGE);

/**
 * Writes `data` leaving its pages of zeros as holes: they read back as zeros, and PostgreSQL's
 * files (its pages and WAL segments are 8 KiB) hold many, a fifth of a new data directory.
 */
function writeSparse(path: string, data: Uint8Array): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    let run = -1;
    for (let page = 0; page < data.length; page += PAGE) {
      const zero = page + PAGE <= data.length && Buffer.compare(data.subarray(page, page + PAGE), ZERO_PAGE) === 0;
      if (!zero && run === -1) run = page;
      if (zero && run !== -1) {
        writeSync(fd, data, run, page - run, run);
        run = -1;
      }
    }
    if (run !== -1) writeSync(fd, data, run, data.length - run, run);
    ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}

/** The header's checksum: the sum of its bytes with the checksum field itself read as spaces. */
function checksumOf(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum;
}

/**
 * Writes the regular files and directories of a ustar archive under `into` (files 0600,
 * directories 0700, pages of zeros left as holes), with Node's own file calls. PGlite's
 * `loadDataDir` writes a template through its WASM file layer, one call at a time: 0.6–1 s for a
 * data directory of ~1,000 files, against a tenth of that here. Fails, having written part of it,
 * on anything it cannot vouch for: a bad checksum, an archive cut short, an entry of another type,
 * a name that leaves `into`.
 *
 * `writeLast` (a path inside `into`) is written after everything else, once the rest is known to
 * be whole: a file by which a reader tells a complete directory (PostgreSQL's `PG_VERSION`).
 */
export function extractTar(archive: Uint8Array, into: string, writeLast?: string): void {
  const root = resolve(into);
  const made = new Set<string>();
  const makeDirectory = (path: string) => {
    if (made.has(path)) return;
    mkdirSync(path, { recursive: true, mode: 0o700 });
    made.add(path);
  };
  let deferred: { path: string; data: Uint8Array } | undefined;
  let at = 0;
  for (;;) {
    if (at + BLOCK > archive.length) throw new Error('tar: the archive ends without its end marker');
    const header = archive.subarray(at, at + BLOCK);
    // Two blocks of zeros end the archive; one is enough to know it ended.
    if (header.every((byte) => byte === 0)) break;
    if (octal(header, 148, 8, 'checksum') !== checksumOf(header)) throw new Error(`tar: bad header checksum at byte ${at}`);
    const prefix = field(header, 345, 155);
    const name = (prefix ? `${prefix}/` : '') + field(header, 0, 100);
    const size = octal(header, 124, 12, 'size');
    const type = String.fromCharCode(header[156]!);
    const path = resolve(root, `.${sep}${name}`);
    const inside = relative(root, path);
    if (inside.startsWith('..') || isAbsolute(inside)) throw new Error(`tar: '${name}' is outside the directory`);
    at += BLOCK;
    if (at + size > archive.length) throw new Error(`tar: the archive is cut short in '${name}'`);
    if (type === '5') makeDirectory(path);
    else if (type === '0' || type === '\0') {
      if (inside === '') throw new Error('tar: a file entry names the directory itself');
      makeDirectory(dirname(path));
      if (inside === writeLast) deferred = { path, data: archive.subarray(at, at + size) };
      else writeSparse(path, archive.subarray(at, at + size));
    } else throw new Error(`tar: '${name}' is of type '${type}', neither a file nor a directory`);
    at += Math.ceil(size / BLOCK) * BLOCK;
  }
  if (deferred) writeSparse(deferred.path, deferred.data);
}
