import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { killTree } from './process-tree.mjs';

const REAPER = new URL('./reaper.mjs', import.meta.url).pathname;

/**
 * No server a test starts outlives the test process: on a normal exit the 'exit' hook kills what is
 * still watched; if the process is killed outright (SIGKILL, a crashed worker), a detached reaper
 * notices its stdin pipe close and does the same.
 */
class OrphanGuard {
  private reaper: ChildProcess | undefined;
  private readonly pids = new Set<number>();
  private readonly dirs = new Set<string>();

  constructor() {
    process.on('exit', () => {
      for (const pid of this.pids) killTree(pid);
      for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    });
  }

  /** Kill this process tree when the test process goes. */
  watch(pid: number): void {
    this.pids.add(pid);
    this.tell(`watch ${pid}`);
  }

  unwatch(pid: number): void {
    this.pids.delete(pid);
    this.tell(`unwatch ${pid}`);
  }

  /** Remove this directory when the test process goes. */
  removeOnExit(dir: string): void {
    this.dirs.add(dir);
    this.tell(`dir ${dir}`);
  }

  forget(dir: string): void {
    this.dirs.delete(dir);
    this.tell(`undir ${dir}`);
  }

  private tell(line: string): void {
    if (!this.reaper) {
      this.reaper = spawn(process.execPath, [REAPER], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
      this.reaper.unref();
      // The pipe must not keep the test process alive; it closes when this process ends, however it ends.
      (this.reaper.stdin as unknown as Socket).unref();
      this.reaper.stdin!.on('error', () => {});
    }
    this.reaper.stdin!.write(`${line}\n`);
  }
}

export const orphanGuard = new OrphanGuard();
