import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirectoryInUseError, DataDirLock, LOCK_FILE } from '../../../src/infrastructure/persistence/data-dir-lock.js';

/** The pid of a process that has exited (spawnSync waits for it and reaps it). */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;

describe('DataDirLock', () => {
  let dir: string;
  let file: string;
  const locks: DataDirLock[] = [];
  const acquire = () => {
    const lock = DataDirLock.acquire(dir);
    locks.push(lock);
    return lock;
  };
  const holder = () => JSON.parse(readFileSync(file, 'utf8')) as { pid: number; host: string; startedAt: string };
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'agentmesh-lock-')));
    file = join(dir, LOCK_FILE);
  });
  afterEach(() => {
    for (const lock of locks.splice(0)) lock.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a lock file naming this process, and removes it on release', () => {
    const lock = acquire();
    expect(holder()).toMatchObject({ pid: process.pid, host: hostname(), startedAt: expect.any(String) });
    lock.release();
    expect(existsSync(file)).toBe(false);
    // Nothing of the way it was made is left beside it.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a second lock in this process, naming the directory and the pid; a lock after release works', () => {
    const first = acquire();
    expect(() => DataDirLock.acquire(dir)).toThrow(DataDirectoryInUseError);
    expect(() => DataDirLock.acquire(dir)).toThrow(
      `the data directory ${dir} is in use by process ${process.pid} (another agentmesh serve, demo or CLI command); stop it first, or set AGENTMESH_DATA_DIR to another directory`,
    );
    first.release();
    acquire();
    expect(holder().pid).toBe(process.pid);
  });

  it('refuses while the lock names another live process', () => {
    // The parent of this test process is alive while the test runs.
    writeFileSync(file, JSON.stringify({ pid: process.ppid, host: hostname() }));
    let error: unknown;
    try {
      DataDirLock.acquire(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataDirectoryInUseError);
    expect((error as DataDirectoryInUseError).holder.pid).toBe(process.ppid);
    expect((error as Error).message).toContain(`is in use by process ${process.ppid} (`);
    expect(holder().pid).toBe(process.ppid);
  });

  it('takes over a lock whose process is gone', () => {
    const pid = deadPid();
    writeFileSync(file, JSON.stringify({ pid, host: hostname(), startedAt: new Date(0).toISOString() }));
    acquire();
    expect(holder().pid).toBe(process.pid);
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
  });

  it('takes over a lock file that is garbage, empty, or names no usable pid', () => {
    for (const garbage of ['not json at all', '', '\u0000\u0001\u0002', '{"pid":"1234"}', '{"pid":0}', '{"pid":-1}', '{"pid":1.5}', '[]', 'null']) {
      writeFileSync(file, garbage);
      const lock = DataDirLock.acquire(dir);
      expect(holder().pid, JSON.stringify(garbage)).toBe(process.pid);
      lock.release();
    }
  });

  it('takes over a lock naming this very pid that this process does not hold (left by an earlier process with the same pid)', () => {
    writeFileSync(file, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date(0).toISOString() }));
    acquire();
    expect(new Date(holder().startedAt).getTime()).toBeGreaterThan(0);
  });

  it('refuses a lock of another host, which it cannot check, and says how to clear it', () => {
    writeFileSync(file, JSON.stringify({ pid: deadPid(), host: 'elsewhere.example' }));
    expect(() => DataDirLock.acquire(dir)).toThrow(
      new RegExp(`^the data directory ${dir} is in use by process \\d+ on host elsewhere\\.example \\(another agentmesh serve, demo or CLI command\\), which cannot be checked from here; stop it first, or delete ${file} if it is no longer running`, 'u'),
    );
  });

  it('waits for a takeover of a stale lock under way in another process, then gives up saying which file to delete', () => {
    writeFileSync(file, JSON.stringify({ pid: deadPid(), host: hostname() }));
    writeFileSync(`${file}.takeover`, JSON.stringify({ pid: process.ppid, host: hostname() }));
    const started = Date.now();
    expect(() => DataDirLock.acquire(dir)).toThrow(`cannot lock the data directory ${dir}: another process is taking over its stale lock (${file}.takeover); if none is, delete that file`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(existsSync(file)).toBe(true);
  });

  it('clears a takeover left long ago by a process that died in it, and takes the stale lock over', () => {
    writeFileSync(file, JSON.stringify({ pid: deadPid(), host: hostname() }));
    writeFileSync(`${file}.takeover`, JSON.stringify({ pid: deadPid(), host: hostname() }));
    const longAgo = new Date(Date.now() - 60_000);
    utimesSync(`${file}.takeover`, longAgo, longAgo);
    acquire();
    expect(holder().pid).toBe(process.pid);
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
  });

  it('release leaves a lock file that is no longer its own', () => {
    const lock = acquire();
    const other = JSON.stringify({ pid: process.ppid, host: hostname() });
    writeFileSync(file, other);
    lock.release();
    expect(readFileSync(file, 'utf8')).toBe(other);
  });

  it('release is idempotent', () => {
    const lock = acquire();
    lock.release();
    const again = acquire();
    lock.release();
    expect(holder().pid).toBe(process.pid);
    again.release();
    expect(existsSync(file)).toBe(false);
  });
});
