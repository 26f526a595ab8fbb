import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orphanGuard } from './orphan-guard.js';
import { descendantPids, isAlive, killTree } from './process-tree.mjs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ports the OS has no use for right now, distinct from each other. */
export async function sparePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface Launch {
  command: string;
  args: string[];
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
}

/**
 * One server process of a test's own (PostgreSQL, NATS, Redis): started on a fixed port and data
 * directory, ready only when it answers its protocol, killed with SIGKILL (its whole process tree,
 * as a crash would) and restarted on the same port and data. Its output goes to a log file whose
 * tail every error quotes. Nothing outlives the test process (see orphan-guard.ts).
 */
export abstract class ManagedServer {
  /** The temporary directory holding the server's data and log. */
  readonly dir: string;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private exit: Promise<number | null> | undefined;
  private killedAt: number | undefined;
  /** From the last kill9() to the server answering again after restart(). */
  downtimeMs: number | undefined;

  protected constructor(
    readonly name: string,
    readonly port: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `agentmesh-chaos-${name}-`));
    orphanGuard.removeOnExit(this.dir);
    this.logFile = join(this.dir, 'server.log');
  }

  /** The command line of the server. */
  protected abstract launch(): Launch;
  /** Resolves once the server answers its protocol; rejects with why it does not (yet). */
  protected abstract probe(): Promise<void>;

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server (again, after kill9 or stop) and waits until it answers. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running (pid ${this.child.pid})`);
    const { command, args, uid, gid } = this.launch();
    const log = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd: this.dir, stdio: ['ignore', log, log], detached: true, ...(uid !== undefined && { uid, gid }) });
    } finally {
      closeSync(log);
    }
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    this.child = child;
    this.exit = exit;
    if (child.pid !== undefined) orphanGuard.watch(child.pid);
    void exit.then(() => {
      if (this.child === child) this.child = undefined;
      if (child.pid !== undefined) orphanGuard.unwatch(child.pid);
    });
    await this.waitReady(timeoutMs, Promise.race([exit.then((code) => `exited with code ${code}`), spawnError.then((e) => `could not be started: ${e.message}`)]));
    if (this.killedAt !== undefined) {
      this.downtimeMs = Date.now() - this.killedAt;
      this.killedAt = undefined;
    }
  }

  private async waitReady(timeoutMs: number, died: Promise<string>): Promise<void> {
    let death: string | undefined;
    void died.then((why) => (death = why));
    const deadline = Date.now() + timeoutMs;
    let lastError = 'no probe answered yet';
    while (Date.now() < deadline) {
      if (death !== undefined) throw new Error(`${this.name} on port ${this.port} ${death} before it was ready; its log:\n${this.logTail()}`);
      try {
        await this.probe();
        return;
      } catch (error) {
        lastError = (error as Error).message;
      }
      await sleep(100);
    }
    await this.kill9();
    throw new Error(`${this.name} on port ${this.port} was not ready within ${timeoutMs} ms (last probe: ${lastError}); its log:\n${this.logTail()}`);
  }

  /** kill -9 of the server and every process it started, as a crash would; resolves once they are gone. */
  async kill9(): Promise<void> {
    const { child, exit } = this;
    if (!child?.pid || !exit) return;
    this.killedAt ??= Date.now();
    const pids = killTree(child.pid);
    await exit;
    await this.waitGone(pids);
  }

  /** SIGKILL, wait, start again on the same port and data directory (downtimeMs is set). */
  async restart(downtimeMs = 0, timeoutMs = 30_000): Promise<void> {
    await this.kill9();
    if (downtimeMs > 0) await sleep(downtimeMs);
    await this.start(timeoutMs);
  }

  /** A clean stop (SIGTERM), with SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    const { child, exit } = this;
    if (!child?.pid || !exit) return;
    child.kill('SIGTERM');
    const stopped = await Promise.race([exit.then(() => true), sleep(graceMs).then(() => false)]);
    if (!stopped) await this.kill9();
    else await this.waitGone(descendantPids(child.pid));
  }

  /** Stops the server and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    orphanGuard.forget(this.dir);
  }

  /** The last lines of the server's log. */
  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private async waitGone(pids: number[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (pids.some(isAlive)) {
      if (Date.now() > deadline) throw new Error(`${this.name}: processes ${pids.filter(isAlive).join(', ')} still alive ${timeoutMs} ms after SIGKILL`);
      await sleep(20);
    }
  }
}
