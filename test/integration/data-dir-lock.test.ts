import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirectoryInUseError, LOCK_FILE } from '../../src/infrastructure/persistence/data-dir-lock.js';
import { openEmbeddedStore } from '../../src/infrastructure/persistence/embedded-store.js';
import { SchemaTooNewError } from '../../src/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../src/infrastructure/persistence/pglite-client.js';
import { cli, cliInProcess, oneLine, ROOT } from '../support/cli-run.js';
import { startHarness, type Harness } from '../support/mesh-harness.js';
import { fastScratchDir } from '../support/scratch.js';
import { serveUntilExit, spawnServe } from '../support/serve-process.js';

const inUse = (dir: string, pid: number) =>
  `agentmesh: the data directory ${dir} is in use by process ${pid} (another agentmesh serve, demo or CLI command); stop it first, or set AGENTMESH_DATA_DIR to another directory`;

describe('the lock on an embedded data directory', { timeout: 120_000 }, () => {
  // New databases (a 39 MB template unpacked each) in memory where the machine has /dev/shm: on this disk each took ~1 s more.
  const scratch = fastScratchDir('agentmesh-dirlock-');
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const fresh = (name: string) => join(scratch, name);

  it('PGlite: a second open of a directory is refused, naming this process; closed, it opens again', async () => {
    const dir = fresh('reopen');
    const db = await PgliteClient.open(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await expect(PgliteClient.open(dir)).rejects.toThrow(DataDirectoryInUseError);
    await expect(openEmbeddedStore(dir)).rejects.toThrow(`the data directory ${dir} is in use by process ${process.pid} (`);
    // The refused opens changed nothing: the first still works.
    await db.query('CREATE TABLE kept (n int)');
    await db.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const again = await PgliteClient.open(dir);
    expect((await again.query('SELECT count(*)::int AS n FROM kept')).rows).toEqual([{ n: 0 }]);
    await again.close();
    await again.close();
  });

  it('in memory, no lock: two at once', async () => {
    const [a, b] = await Promise.all([PgliteClient.open(undefined), PgliteClient.open(undefined)]);
    await Promise.all([a.close(), b.close()]);
    const h = await startHarness({ AGENTMESH_DATA_DIR: ':memory:' });
    try {
      // The harness made a directory that :memory: leaves unused: nothing was locked in it (or anywhere here).
      expect(existsSync(join(h.dataDir, LOCK_FILE))).toBe(false);
      expect(existsSync(join(ROOT, LOCK_FILE))).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('a store whose migration fails lets go of the directory', async () => {
    const dir = fresh('too-new');
    const db = await PgliteClient.open(dir);
    await db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    await db.query("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from the future')");
    await db.close();
    await expect(openEmbeddedStore(dir)).rejects.toThrow(SchemaTooNewError);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    await (await PgliteClient.open(dir)).close();
  });

  describe('a mesh running on the directory', () => {
    let h: Harness | undefined;
    afterAll(async () => h?.close());

    it('refuses a second mesh, serve, migrate, audit verify and audit report, each with one line; after it stops they run', async () => {
      h = await startHarness({}, fresh('mesh'));
      const dir = h.dataDir;
      await expect(startHarness({}, dir)).rejects.toThrow(DataDirectoryInUseError);
      const env = { AGENTMESH_DATA_DIR: dir };
      const from = new Date(Date.now() - 3600_000).toISOString();
      const to = new Date(Date.now() + 3600_000).toISOString();
      const report = ['audit', 'report', '--framework', 'soc2', '--tenant', 'default', '--from', from, '--to', to];
      const [verify, reported, migrated, served] = await Promise.all([
        cli(['audit', 'verify'], env, 60_000),
        cli(report, env, 60_000),
        cli(['migrate'], env, 60_000),
        // At the default log level: it stops at the lock, before reading (or warning of) the development keys kept there.
        serveUntilExit({ ...env, AGENTMESH_LOG_LEVEL: 'info' }, 60_000),
      ]);
      for (const run of [verify, reported, migrated, served]) {
        expect(run.code, run.stderr).toBe(1);
        expect(oneLine(run.stderr)).toBe(inUse(dir, process.pid));
      }
      expect(verify.stdout + reported.stdout + migrated.stdout + served.stdout).toBe('');
      // The mesh went on regardless.
      expect((await h.request('GET', '/v1/audit/verify')).body).toMatchObject({ intact: true });

      await h.stop();
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
      // In this process now: what they need of the lock is that the mesh let go of it, and that they do as they end.
      const verified = await cliInProcess(['audit', 'verify'], env);
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/tenant default: .*: intact/u);
      const exported = await cliInProcess(report, env);
      expect(exported.code, exported.stderr).toBe(0);
      const { contentHash } = JSON.parse(exported.stdout) as { contentHash: string };
      // The command let go of the directory as it ended.
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

      // The export the command recorded is in the log the mesh reads when it starts again.
      h = await startHarness({}, dir);
      const entries = (await h.request('GET', '/v1/audit?action=AUDIT_LOG_EXPORTED')).body.items as Array<{ details: { via?: string; contentHash?: string } }>;
      expect(entries.map((e) => e.details)).toContainEqual(expect.objectContaining({ via: 'agentmesh audit report', contentHash }));
    });
  });

  it('agentmesh serve: a second one on the directory is refused naming the first; once the first is killed, its lock is stale and taken over', async () => {
    const dir = fresh('served');
    const first = await spawnServe({ AGENTMESH_DATA_DIR: dir, AGENTMESH_ADMIN_KEY: 'dirlock-admin-key-0123456789' }, 60_000);
    try {
      expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(first.pid);
      const second = await serveUntilExit({ AGENTMESH_DATA_DIR: dir, AGENTMESH_LOG_LEVEL: 'silent' }, 60_000);
      expect(second.code).toBe(1);
      expect(oneLine(second.stderr)).toBe(inUse(dir, first.pid));
      const answered = await fetch(`${first.url}/health/live`);
      expect(answered.status).toBe(200);
    } finally {
      first.kill('SIGKILL');
    }
    await first.exited;
    // A crash leaves the lock file behind, naming a process that is gone.
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(first.pid);
    const verified = await cli(['audit', 'verify'], { AGENTMESH_DATA_DIR: dir }, 60_000);
    expect(verified.code, verified.stderr).toBe(0);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('of processes that find the same stale lock at once, exactly one takes it; it is released at exit', async () => {
    const lockModule = fileURLToPath(new URL('../../dist/infrastructure/persistence/data-dir-lock.js', import.meta.url));
    const script = join(scratch, 'contend.mjs');
    // Each contender says when it is loaded, is then told the moment to try at (the same for all), and a winner
    // holds the lock until every contender of its directory has tried: no fixed wait for either.
    writeFileSync(
      script,
      `const [module, dir] = process.argv.slice(2);
const { DataDirLock } = await import(module);
const { createInterface } = await import('node:readline');
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
console.log('ready');
const startAt = Number((await lines.next()).value);
while (Date.now() < startAt);
try {
  DataDirLock.acquire(dir);
  console.log('won');
  await lines.next();
  process.exit(0);
} catch (error) {
  console.log('refused: ' + error.message);
  process.exit(0);
}
`,
    );
    const contend = (dir: string) => {
      const child = spawn(process.execPath, [script, lockModule, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
      // A contender that has exited cannot be told anything more (what it did is in its output).
      child.stdin.on('error', () => {});
      let out = '';
      let onLine: ((line: string) => void)[] = [];
      const next = () => new Promise<string>((resolve) => onLine.push(resolve));
      const ready = next();
      const result = next();
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        let newline: number;
        while ((newline = out.indexOf('\n')) >= 0) {
          const line = out.slice(0, newline);
          out = out.slice(newline + 1);
          onLine.shift()?.(line);
        }
      });
      const closed = new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', () => {
          // Gone early (a crash, its error above): whatever it said last stands for what it did not say.
          for (const waiting of onLine) waiting(out.trim());
          onLine = [];
          resolve();
        });
      });
      return {
        pid: child.pid!,
        ready,
        result,
        closed,
        go: (startAt: number) => child.stdin.write(`${startAt}\n`),
        release: () => child.stdin.end('\n'),
      };
    };
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = [JSON.stringify({ pid: gone, host: hostname() }), 'garbage', ''];
    // The three kinds of stale lock, each on its own directory, contended at the same moment.
    const contended = stale.map((text, round) => {
      const dir = fresh(`contended-${round}`);
      mkdirSync(dir);
      writeFileSync(join(dir, LOCK_FILE), text);
      return { dir, contenders: Array.from({ length: 6 }, () => contend(dir)) };
    });
    const all = contended.flatMap((c) => c.contenders);
    await Promise.all(all.map((c) => c.ready));
    const startAt = Date.now() + 200;
    for (const c of all) c.go(startAt);
    const rounds = await Promise.all(
      contended.map(async ({ dir, contenders }) => {
        const outs = await Promise.all(contenders.map((c) => c.result));
        // Every contender of this directory has tried: the winner (any, were there several) may exit now.
        for (const c of contenders) c.release();
        await Promise.all(contenders.map((c) => c.closed));
        return { dir, runs: contenders.map((c, i) => ({ pid: c.pid, out: outs[i]! })) };
      }),
    );
    for (const { dir, runs } of rounds) {
      const winners = runs.filter((r) => r.out === 'won');
      expect(winners, JSON.stringify(runs)).toHaveLength(1);
      for (const r of runs.filter((x) => x.out !== 'won')) expect(r.out).toBe(`refused: ${inUse(dir, winners[0]!.pid).replace(/^agentmesh: /u, '')}`);
      // The winner exited without releasing it: its exit handler did.
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
      expect(existsSync(join(dir, `${LOCK_FILE}.takeover`))).toBe(false);
    }
  });
});
