import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** The lock file in an embedded data directory: while it names a live process, no other opens the directory. */
export const LOCK_FILE = 'agentmesh.lock';

interface Holder {
  pid: number;
  host?: string;
}

export class DataDirectoryInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: Holder,
    lockFile: string,
  ) {
    super(
      holder.host !== undefined && holder.host !== hostname()
        ? `the data directory ${dataDir} is in use by process ${holder.pid} on host ${holder.host} (another agentmesh serve, demo or CLI command), which cannot be checked from here; stop it first, or delete ${lockFile} if it is no longer running, or set AGENTMESH_DATA_DIR to another directory`
        : `the data directory ${dataDir} is in use by process ${holder.pid} (another agentmesh serve, demo or CLI command); stop it first, or set AGENTMESH_DATA_DIR to another directory`,
    );
    this.name = 'DataDirectoryInUseError';
  }
}

/** Lock files this process holds, by path, with the text it wrote (released only while the file still holds that text). */
const held = new Map<string, string>();
let exitHandlerInstalled = false;

function releaseAllAtExit(): void {
  for (const [file, text] of held) removeIfOurs(file, text);
  held.clear();
}

function removeIfOurs(file: string, text: string): void {
  try {
    if (readFileSync(file, 'utf8') === text) unlinkSync(file);
  } catch {
    // Gone already, or unreadable: nothing of ours to remove.
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/** The file's text, or undefined when there is no file. */
function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as { pid?: unknown; host?: unknown };
    if (typeof value.pid !== 'number' || !Number.isSafeInteger(value.pid) || value.pid <= 0) return undefined;
    return { pid: value.pid, ...(typeof value.host === 'string' && { host: value.host }) };
  } catch {
    return undefined;
  }
}

/** Whether the holder may still be running: a process on another host cannot be checked, so it counts as running. */
function mayBeRunning(holder: Holder, file: string): boolean {
  if (holder.host !== undefined && holder.host !== hostname()) return true;
  // This process's own pid in a lock it did not take: left by an earlier process that had the same pid (a restarted container).
  if (holder.pid === process.pid) return held.has(file);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/**
 * Creates `file` holding `text` if there is none, atomically and whole: the text is written to a
 * file of its own first and linked in, so no reader ever sees a lock file half written.
 */
function createExclusive(file: string, text: string): boolean {
  const scratch = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  const fd = openSync(scratch, 'wx', 0o644);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(scratch, file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    // A file system without hard links: create it in place ('wx' is exclusive too).
    return createInPlace(file, text);
  } finally {
    unlinkSync(scratch);
  }
}

function createInPlace(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** A takeover left by a process that died in the middle of it (it takes milliseconds) is cleared after this long. */
const TAKEOVER_STALE_MS = 10_000;
/** How long to wait for another process's takeover of a stale lock before giving up. */
const TAKEOVER_WAIT_MS = 2_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Removes the stale lock `file` if it still holds `stale`, under a takeover file of its own
 * (created as exclusively as the lock): of processes that find the same stale lock at once, one
 * removes it, and no one can remove a lock that another has just made in its place. Returns false
 * while another process's takeover is under way.
 */
function removeStale(file: string, stale: string, text: string): boolean {
  const takeover = `${file}.takeover`;
  if (!createExclusive(takeover, text)) {
    const left = readIfThere(takeover);
    let age = 0;
    try {
      age = Date.now() - statSync(takeover).mtimeMs;
    } catch {
      // Finished meanwhile.
    }
    if (left !== undefined && age > TAKEOVER_STALE_MS) removeIfOurs(takeover, left);
    return false;
  }
  try {
    // Under the takeover nothing else removes the lock, and nothing can be made while it is there.
    if (readIfThere(file) === stale) unlinkSync(file);
    return true;
  } finally {
    removeIfOurs(takeover, text);
  }
}

/**
 * An exclusive lock on an embedded (PGlite) data directory, held from open to close: PGlite has
 * one process at a time, and two on one directory can corrupt it. The lock file names the process
 * (pid, host); a lock whose process is gone, or that cannot be read, is stale and taken over.
 * Everything here is synchronous: nothing else in this process runs between a check and its act.
 */
export class DataDirLock {
  private released = false;

  private constructor(
    readonly file: string,
    private readonly text: string,
  ) {}

  /** Locks `dataDir`, which must exist; throws DataDirectoryInUseError while another process (or another open in this one) holds it. */
  static acquire(dataDir: string): DataDirLock {
    const file = join(realpathSync(dataDir), LOCK_FILE);
    const text = `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), id: randomBytes(8).toString('hex') })}\n`;
    const giveUpAt = Date.now() + TAKEOVER_WAIT_MS;
    for (;;) {
      if (createExclusive(file, text)) {
        held.set(file, text);
        if (!exitHandlerInstalled) {
          exitHandlerInstalled = true;
          process.on('exit', releaseAllAtExit);
        }
        return new DataDirLock(file, text);
      }
      const seen = readIfThere(file);
      if (seen === undefined) continue;
      const holder = parseHolder(seen);
      if (holder !== undefined && mayBeRunning(holder, file)) throw new DataDirectoryInUseError(resolve(dataDir), holder, file);
      if (removeStale(file, seen, text)) continue;
      if (Date.now() > giveUpAt) {
        throw new Error(`cannot lock the data directory ${resolve(dataDir)}: another process is taking over its stale lock (${file}.takeover); if none is, delete that file`);
      }
      // Another process is taking the stale lock over: its own lock will be there in a moment.
      sleepSync(10);
    }
  }

  /** Removes the lock file if it is still this lock's. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (held.get(this.file) === this.text) held.delete(this.file);
    removeIfOurs(this.file, this.text);
  }
}
