import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startHarness, type Harness } from '../support/mesh-harness.js';
import { cli, CLI, cliEnv, cliInProcess, oneLine, ROOT } from '../support/cli-run.js';
import { fastScratchDir } from '../support/scratch.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('agentmesh CLI', () => {
  let h: Harness;
  // Data directories of the suite (new embedded databases): in memory where the machine has /dev/shm.
  const scratch = fastScratchDir('agentmesh-cli-');
  /** A directory of its own under the suite's scratch, made. */
  const dirOf = (name: string) => {
    const dir = join(scratch, name);
    mkdirSync(dir);
    return dir;
  };
  beforeAll(async () => {
    if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    h = await startHarness({}, join(scratch, 'mesh'));
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('without a mesh', () => {
    it('--version prints the version and exits 0', async () => {
      const run = await cli(['--version']);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      expect(run.stderr).toBe('');
    });

    it('warns of a misspelt AGENTMESH_ variable, naming the one it likely meant, and goes on', async () => {
      const run = await cli(['--version'], { AGENTMESH_PROT: '9000' });
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('agentmesh: warning: AGENTMESH_PROT is not a setting AgentMesh reads; it is ignored (did you mean AGENTMESH_PORT?)\n');
    });

    it('an unknown command exits 2 with one line on stderr', async () => {
      const run = await cli(['frobnicate']);
      expect(run.code).toBe(2);
      expect(oneLine(run.stderr)).toMatch(/^agentmesh: unknown command 'frobnicate'/);
      expect(run.stdout).toBe('');
    });

    it('serve with an option exits 2 with one line pointing to the variable that does it', async () => {
      const [port, other] = await Promise.all([cli(['serve', '--port', '9000']), cli(['serve', '--verbose'])]);
      expect([port.code, other.code]).toEqual([2, 2]);
      expect(port.stderr).toBe("agentmesh: unknown option '--port': serve takes its settings from AGENTMESH_* variables (set AGENTMESH_PORT instead)\n");
      expect(other.stderr).toBe("agentmesh: unknown option '--verbose': serve takes its settings from AGENTMESH_* variables (see the configuration table in the README)\n");
    });

    it('a group of commands alone, or with one it does not have, exits 2 with one line naming its commands', async () => {
      const [alone, unknown] = await Promise.all([cli(['tasks']), cli(['audit', 'nope'])]);
      expect([alone.code, unknown.code]).toEqual([2, 2]);
      expect(alone.stderr).toBe("agentmesh: name a command of 'tasks': submit, get (see agentmesh tasks --help)\n");
      expect(unknown.stderr).toBe("agentmesh: unknown command 'nope' of 'audit': report, verify (see agentmesh audit --help)\n");
    });

    it('warns of a variable set but empty, which counts as unset', async () => {
      const run = await cli(['--version'], { AGENTMESH_PORT: '' });
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('agentmesh: warning: AGENTMESH_PORT is set but empty, which counts as unset: its default is used\n');
    });

    it.each([
      [['tasks', 'submit', 'x', '--strategy', 'nope'], /^agentmesh: --strategy must be one of round_robin, .*broadcast, got 'nope'$/],
      [['tasks', 'submit', 'x', '--strategy', 'affinity'], /^agentmesh: --strategy affinity needs --affinity-key <key>$/],
      [['tasks', 'submit', 'x', '--affinity-key', 'k'], /^agentmesh: --affinity-key goes with --strategy affinity$/],
      [['tasks', 'submit', 'x', '--timeout', '5'], /^agentmesh: --timeout goes with --wait$/],
      [['agents', 'list', '--status', 'bogus'], /^agentmesh: --status must be one of available, busy, paused, unhealthy, terminated, got 'bogus'$/],
      [['agents', 'list', '--url', 'notaurl'], /^agentmesh: --url must be an http:\/\/ or https:\/\/ address, got 'notaurl'$/],
      [['agents', 'list', '--url', 'ftp://x'], /^agentmesh: --url must be an http:\/\/ or https:\/\/ address/],
      [['tasks', 'submit', 'x', '--bogus'], /^agentmesh: unknown option '--bogus'$/],
      // Each case a program of its own, nothing shared: they run at once.
    ])('%j: one line, exit 2', { concurrent: true }, async (args, message) => {
      const run = await cliInProcess([...args, '--api-key', 'unused-key-0123456789']);
      expect(run.code).toBe(2);
      expect(oneLine(run.stderr)).toMatch(message);
      expect(run.stdout).toBe('');
    });

    describe('an empty capability, id, filter, cursor, key, tenant or file', () => {
      /**
       * Where a case's client commands are pointed: anything sent would be counted here. One per case, so that the
       * cases run at once and each counts only its own requests.
       */
      async function counting(check: (url: string) => Promise<void>): Promise<string[]> {
        const received: string[] = [];
        const server: Server = createHttpServer((req, res) => {
          received.push(`${req.method} ${req.url}`);
          res.writeHead(500).end();
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        try {
          await check(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
        } finally {
          await new Promise((r) => server.close(r));
        }
        return received;
      }

      const period = ['--framework', 'soc2', '--from', '2026-01-01', '--to', '2026-02-01'];
      it.each([
        [['tasks', 'submit', ''], 'agentmesh: the capability must not be empty'],
        [['tasks', 'submit', '  '], "agentmesh: the capability must not be empty or blank, got '  '"],
        [['tasks', 'submit', '', '--wait'], 'agentmesh: the capability must not be empty'],
        [['tasks', 'submit', 'x', '--strategy', 'affinity', '--affinity-key', ''], 'agentmesh: --affinity-key must not be empty'],
        [['tasks', 'get', ''], 'agentmesh: the task id must not be empty'],
        [['agents', 'list', '--capability', ''], 'agentmesh: --capability must not be empty'],
        [['agents', 'list', '--cursor', ''], 'agentmesh: --cursor must not be empty'],
        [['audit', 'verify', '--tenant', ''], 'agentmesh: --tenant must not be empty'],
        [['audit', 'report', ...period, '--tenant', ''], 'agentmesh: --tenant must not be empty'],
        [['audit', 'report', ...period, '--tenant', 'default', '--out', ''], 'agentmesh: --out must not be empty'],
      ])('%j: a usage error (one line, exit 2), nothing sent', { concurrent: true }, async (args, message) => {
        const received = await counting(async (url) => {
          const client = args[0] !== 'audit' ? ['--api-key', 'unused-key-0123456789', '--url', url] : [];
          const run = await cliInProcess([...args, ...client], { AGENTMESH_DATA_DIR: '/nonexistent/agentmesh-data' });
          expect(run.code, run.stderr).toBe(2);
          expect(oneLine(run.stderr)).toBe(message);
          expect(run.stdout).toBe('');
        });
        expect(received).toEqual([]);
      });

      it('an empty API key is said as a missing one', { concurrent: true }, async () => {
        const received = await counting(async (url) => {
          const run = await cliInProcess(['tasks', 'submit', 'x', '--api-key', '', '--url', url]);
          expect(run.code).toBe(2);
          expect(oneLine(run.stderr)).toMatch(/^agentmesh: an API key is required/u);
        });
        expect(received).toEqual([]);
      });
    });

    it('demo --tasks 5 exits 2 with a one-line message', async () => {
      const run = await cliInProcess(['demo', '--tasks', '5']);
      expect(run.code).toBe(2);
      const line = oneLine(run.stderr);
      expect(line).toMatch(/^agentmesh: /);
      expect(line).toContain('--tasks');
      expect(line).toContain("'5'");
    });

    it('tasks submit without an API key exits 2 with a one-line message', async () => {
      const run = await cliInProcess(['tasks', 'submit', 'echo', '--url', 'http://127.0.0.1:1']);
      expect(run.code).toBe(2);
      const line = oneLine(run.stderr);
      expect(line).toMatch(/^agentmesh: /);
      expect(line).toMatch(/API key/);
      expect(line).toContain('--api-key');
    });

    it('agents list against a refused port exits 1 with a one-line message', async () => {
      const port = await closedPort();
      const run = await cli(['agents', 'list', '--api-key', 'x', '--url', `http://127.0.0.1:${port}`]);
      expect(run.code).toBe(1);
      const line = oneLine(run.stderr);
      expect(line).toMatch(new RegExp(`^agentmesh: cannot reach the mesh at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`, 'u'));
    });

    it('agents list against a server that is not AgentMesh says so, in one line', async () => {
      const other = createHttpServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>'));
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = other.address() as { port: number };
        const run = await cliInProcess(['agents', 'list', '--api-key', 'x', '--url', `http://127.0.0.1:${port}`]);
        expect(run.code).toBe(1);
        expect(oneLine(run.stderr)).toBe("agentmesh: 404 Not Found (not an answer of AgentMesh: is --url or AGENTMESH_URL the mesh's address?)");
      } finally {
        await new Promise((resolve) => other.close(resolve));
      }
    });

    it('agents list --url http://127.0.0.1:1 exits 1 with a clear one-line message (not a bare "fetch failed")', async () => {
      const run = await cliInProcess(['agents', 'list', '--api-key', 'x', '--url', 'http://127.0.0.1:1']);
      expect(run.code).toBe(1);
      const line = oneLine(run.stderr);
      expect(line).not.toBe('agentmesh: fetch failed');
      expect(line).toBe('agentmesh: cannot reach the mesh at http://127.0.0.1:1: bad port');
    });

    it('serve with AGENTMESH_PORT=abc exits 2 with a one-line message naming AGENTMESH_PORT', async () => {
      const run = await cli(['serve'], { AGENTMESH_PORT: 'abc', AGENTMESH_DATA_DIR: ':memory:' }, 10_000);
      expect(run.code).toBe(2);
      const line = oneLine(run.stderr);
      expect(line).toMatch(/^agentmesh: /);
      expect(line).toContain('AGENTMESH_PORT');
      expect(line).toContain("'abc'");
    });

    it('serve with AGENTMESH_DATA_DIR on a file exits 2 with a one-line message naming AGENTMESH_DATA_DIR, before opening anything', async () => {
      const file = join(ROOT, 'package.json');
      const run = await cli(['serve'], { AGENTMESH_DATA_DIR: join(file, 'data') }, 10_000);
      expect(run.code).toBe(2);
      expect(oneLine(run.stderr)).toBe(`agentmesh: AGENTMESH_DATA_DIR must be a directory or a path where one can be made, but '${file}' (on the way to '${join(file, 'data')}') is a file`);
    });

    it('migrate says when it made a new database, and after that only that the schema is up to date', async () => {
      const dataDir = join(dirOf('migrate'), 'data');
      const first = await cliInProcess(['migrate'], { AGENTMESH_DATA_DIR: dataDir });
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toBe(`${dataDir}: made a new embedded database (there was none); the schema is up to date\n`);
      const again = await cliInProcess(['migrate'], { AGENTMESH_DATA_DIR: dataDir });
      expect(again.stdout).toBe(`${dataDir}: the schema is up to date\n`);
    });

    it('serve whose first start fails once the admin key is made (the port taken) prints the key all the same, and the key works', async () => {
      const taken = createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
      const dataDir = dirOf('first-start');
      try {
        const run = await cli(['serve'], { AGENTMESH_DATA_DIR: dataDir, AGENTMESH_PORT: String((taken.address() as { port: number }).port) }, 30_000);
        expect(run.code).toBe(1);
        expect(oneLine(run.stderr)).toMatch(/^agentmesh: the address is in use/u);
        const key = /Admin API key \(shown once, keep it safe\):\n\n {2}(\S+)\n/u.exec(run.stdout)?.[1];
        expect(key, run.stdout).toMatch(/^am_/u);
        const later = await startHarness({}, dataDir);
        try {
          expect(await later.running.mesh.auth.authenticate(key!)).toMatchObject({ tenantId: 'default', role: 'admin', platform: true });
        } finally {
          await later.running.close();
        }
      } finally {
        await new Promise((r) => taken.close(r));
      }
    });

    it('serve with an audit signing key that is missing or not Ed25519 exits 1 with one line naming AGENTMESH_AUDIT_SIGNING_KEY_FILE', async () => {
      const { generateKeyPairSync } = await import('node:crypto');
      const { writeFileSync } = await import('node:fs');
      // Checked before the store opens: the data directory is never made.
      const dataDir = join(dirOf('key-data'), 'data');
      const file = join(dirOf('key'), 'ec.pem');
      writeFileSync(file, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
      // Two processes that share nothing: at once.
      const [missing, wrongKind] = await Promise.all([
        cli(['serve'], { AGENTMESH_DATA_DIR: dataDir, AGENTMESH_PORT: '0', AGENTMESH_AUDIT_SIGNING_KEY_FILE: '/nonexistent/key.pem' }, 15_000),
        cli(['serve'], { AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_PORT: '0', AGENTMESH_AUDIT_SIGNING_KEY_FILE: file }, 15_000),
      ]);
      expect(missing.code).toBe(1);
      expect(existsSync(dataDir)).toBe(false);
      expect(oneLine(missing.stderr)).toMatch(/^agentmesh: AGENTMESH_AUDIT_SIGNING_KEY_FILE: cannot read the audit signing key \/nonexistent\/key\.pem: ENOENT/u);
      expect(wrongKind.code).toBe(1);
      expect(oneLine(wrongKind.stderr)).toBe('agentmesh: AGENTMESH_AUDIT_SIGNING_KEY_FILE: the audit signing key must be Ed25519, this one is ec');
    });
  });

  it('serve with a master key file that is missing or malformed exits 1 with one line naming AGENTMESH_MASTER_KEY_FILE; a bad AGENTMESH_MASTER_KEY exits 2', async () => {
    const { writeFileSync } = await import('node:fs');
    // Checked before the store opens: the data directory is never made.
    const dataDir = join(dirOf('master-data'), 'data');
    const file = join(dirOf('master'), 'keys');
    writeFileSync(file, 'c2hvcnQ=\n');
    // Three processes that share nothing: at once.
    const [missing, malformed, badEnv] = await Promise.all([
      cli(['serve'], { AGENTMESH_DATA_DIR: dataDir, AGENTMESH_PORT: '0', AGENTMESH_MASTER_KEY_FILE: '/nonexistent/master-keys' }, 15_000),
      cli(['serve'], { AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_PORT: '0', AGENTMESH_MASTER_KEY_FILE: file }, 15_000),
      cli(['serve'], { AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_PORT: '0', AGENTMESH_MASTER_KEY: 'c2hvcnQ=' }, 15_000),
    ]);
    expect(missing.code).toBe(1);
    expect(existsSync(dataDir)).toBe(false);
    expect(oneLine(missing.stderr)).toMatch(/^agentmesh: AGENTMESH_MASTER_KEY_FILE: cannot read \/nonexistent\/master-keys: ENOENT/u);
    expect(malformed.code).toBe(1);
    expect(oneLine(malformed.stderr)).toBe(`agentmesh: AGENTMESH_MASTER_KEY_FILE: ${file}: key 1 is not base64 of 32 bytes (make one with: openssl rand -base64 32)`);
    expect(badEnv.code).toBe(2);
    expect(oneLine(badEnv.stderr)).toBe('agentmesh: AGENTMESH_MASTER_KEY: key 1 is not base64 of 32 bytes (make one with: openssl rand -base64 32)');
  });

  it('serve stops on SIGTERM with an SSE stream, a long poll and a task wait open: exit 0 within 10 s', async () => {
    const port = await closedPort();
    const child = spawn(process.execPath, [CLI, 'serve'], {
      cwd: ROOT,
      env: cliEnv({ AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_PORT: String(port), AGENTMESH_ADMIN_KEY: ADMIN_KEY }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const url = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
    // A slow machine may take a while to start PGlite; never leave the child behind.
    const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    try {
      for (let i = 0; !stdout.includes('AgentMesh is listening'); i++) {
        if (i > 600) throw new Error(`serve did not start: ${stdout}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const register = (id: string) => fetch(`${url}/v1/agents`, { method: 'POST', headers, body: JSON.stringify({ id, name: id, capabilities: [{ name: 'sig' }] }) });
      await register('sig-stream');
      await register('sig-poll');
      const stream = await fetch(`${url}/v1/agents/sig-stream/stream`, { headers });
      const streamDone = stream.body!.pipeTo(new WritableStream()).then(() => 'ended', () => 'ended');
      const poll = fetch(`${url}/v1/agents/sig-poll/tasks/next?waitMs=30000`, { headers }).then((r) => r.status, () => 'closed');
      const submitted = (await (await fetch(`${url}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify({ capability: 'nobody', input: 1 }) })).json()) as { id: string };
      const wait = fetch(`${url}/v1/tasks/${submitted.id}?waitMs=30000`, { headers }).then((r) => r.status, () => 'closed');
      await new Promise((r) => setTimeout(r, 200));

      const signaledAt = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      expect(code).toBe(0);
      expect(Date.now() - signaledAt).toBeLessThan(10_000);
      expect(await streamDone).toBe('ended');
      expect([204, 'closed']).toContain(await poll);
      expect([200, 'closed']).toContain(await wait);
      expect(stdout).toContain('"msg":"stopped"');
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  }, 60_000);

  describe('against a mesh', () => {
    const flags = () => ['--api-key', ADMIN_KEY, '--url', h.url];

    it('tasks submit prints JSON with the new id; tasks get prints the task', async () => {
      const run = await cli(['tasks', 'submit', 'echo', '--input', '{"a":1}', '--priority', '8', ...flags()]);
      expect(run.code, run.stderr).toBe(0);
      const submitted = JSON.parse(run.stdout);
      expect(submitted).toEqual({ id: expect.any(String), status: 'queued', created: true });
      const stored = await h.admin.get(submitted.id);
      expect(stored.input).toEqual({ a: 1 });
      expect(stored.priority).toBe(8);

      const got = await cli(['tasks', 'get', submitted.id, ...flags()]);
      expect(got.code, got.stderr).toBe(0);
      const task = JSON.parse(got.stdout);
      expect(task).toMatchObject({ id: submitted.id, capability: 'echo', input: { a: 1 }, status: 'queued', tenantId: 'default' });
    });

    it('the built CLI: a result larger than a pipe holds, read slowly, arrives whole before the exit code 1 of a wait that timed out', async () => {
      // A shell pipe (64 KB) whose reader starts 2.5 s late, as `agentmesh ... | slow-consumer`: a CLI that exited
      // with its output still queued for the pipe would lose what did not fit.
      const script = 'node "$CLI" tasks submit nobody-takes-this --input "$INPUT" --wait --timeout 1 --api-key "$KEY" --url "$URL" | { sleep 2.5; cat; }; exit "${PIPESTATUS[0]}"';
      const text = 'x'.repeat(100_000);
      const child = spawn('bash', ['-c', script], {
        cwd: ROOT,
        env: cliEnv({ CLI, INPUT: JSON.stringify({ text }), KEY: ADMIN_KEY, URL: h.url }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const stdout: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise((resolve) => child.on('close', resolve));
      expect(code, stderr).toBe(1);
      expect(JSON.parse(Buffer.concat(stdout).toString('utf8'))).toMatchObject({ capability: 'nobody-takes-this', status: 'queued', input: { text } });
      expect(oneLine(stderr)).toMatch(/^agentmesh: task \S+ is still queued after 1 ms/u);
    });

    it('tasks submit --input that is not JSON exits 2 and submits nothing', async () => {
      const before = (await h.admin.list({ capability: 'bad-input' })).items.length;
      const run = await cliInProcess(['tasks', 'submit', 'bad-input', '--input', 'not json', ...flags()]);
      expect(run.code).toBe(2);
      expect(oneLine(run.stderr)).toMatch(/^agentmesh: --input must be JSON/);
      expect(run.stdout).toBe('');
      expect((await h.admin.list({ capability: 'bad-input' })).items.length).toBe(before);
    });

    it('tasks submit --wait --timeout gives up on a task nobody takes: prints it, says why, exits 1', async () => {
      const run = await cliInProcess(['tasks', 'submit', 'nobody-has-this', '--wait', '--timeout', '300', ...flags()]);
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout)).toMatchObject({ capability: 'nobody-has-this', status: 'queued' });
      expect(oneLine(run.stderr)).toMatch(/^agentmesh: task \S+ is still queued after 300 ms/);

      const bad = await cliInProcess(['tasks', 'submit', 'x', '--wait', '--timeout', 'soon', ...flags()]);
      expect(bad.code).toBe(2);
      expect(oneLine(bad.stderr)).toMatch(/^agentmesh: --timeout must be an integer/);

      const id = JSON.parse(run.stdout).id as string;
      const got = await cliInProcess(['tasks', 'get', id, '--wait', '200', ...flags()]);
      expect(got.code).toBe(1);
      expect(JSON.parse(got.stdout)).toMatchObject({ id, status: 'queued' });
      expect(oneLine(got.stderr)).toBe(`agentmesh: task ${id} is still queued after 200 ms (no capable agent took it?)`);
    });

    it('tasks submit with a capability the mesh would refuse exits 2, sending nothing', async () => {
      const run = await cliInProcess(['tasks', 'submit', 'bad cap!', ...flags()]);
      expect(run.code).toBe(2);
      expect(oneLine(run.stderr)).toBe("agentmesh: the capability must be 1-128 characters of [A-Za-z0-9._:/-], got 'bad cap!'");
      expect(run.stdout).toBe('');
    });

    it('agents list prints the agents page', async () => {
      await h.admin.registerAgent({ id: 'cli-agent', name: 'cli agent', capabilities: [{ name: 'cli-cap' }] });
      const run = await cliInProcess(['agents', 'list', ...flags()]);
      expect(run.code, run.stderr).toBe(0);
      const page = JSON.parse(run.stdout);
      expect(Array.isArray(page.items)).toBe(true);
      expect(page.items.map((a: { id: string }) => a.id)).toContain('cli-agent');

      const filtered = await cliInProcess(['agents', 'list', '--capability', 'cli-cap', ...flags()]);
      expect(filtered.code, filtered.stderr).toBe(0);
      expect(JSON.parse(filtered.stdout).items.map((a: { id: string }) => a.id)).toEqual(['cli-agent']);

      await h.admin.registerAgent({ id: 'cli-agent-2', name: 'cli agent 2', capabilities: [{ name: 'cli-cap' }] });
      const first = await cliInProcess(['agents', 'list', '--capability', 'cli-cap', '--limit', '1', ...flags()]);
      const page1 = JSON.parse(first.stdout);
      expect(page1.items.map((a: { id: string }) => a.id)).toEqual(['cli-agent']);
      const second = await cliInProcess(['agents', 'list', '--capability', 'cli-cap', '--limit', '1', '--cursor', page1.nextCursor, ...flags()]);
      expect(second.code, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout).items.map((a: { id: string }) => a.id)).toEqual(['cli-agent-2']);
    });

    it('an API error exits 1 with the problem on one line', async () => {
      const missing = await cliInProcess(['tasks', 'get', 'no-such-task', ...flags()]);
      expect(missing.code).toBe(1);
      const line = oneLine(missing.stderr);
      expect(line).toMatch(/^agentmesh: 404\b/);
      expect(line).toContain('no-such-task');

      const wrongKey = await cliInProcess(['agents', 'list', '--api-key', 'am_wrong.key', '--url', h.url]);
      expect(wrongKey.code).toBe(1);
      expect(oneLine(wrongKey.stderr)).toMatch(/^agentmesh: 401\b/);
    });

    it('reads the key and url from AGENTMESH_API_KEY and AGENTMESH_URL', async () => {
      const run = await cliInProcess(['agents', 'list'], { AGENTMESH_API_KEY: ADMIN_KEY, AGENTMESH_URL: h.url });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).items.map((a: { id: string }) => a.id)).toContain('cli-agent');
    });
  });
});
