// Many instances as one mesh: `agentmesh serve` processes on PostgreSQL + NATS JetStream + Redis,
// with the SDK agents and the submitting client on a worker thread, spread over the instances.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { Redis } from 'ioredis';
import { percentile, BENCH_ADMIN_KEY } from './e2e.mjs';
import { once } from './e2e-threads.mjs';
import { NATS_URL, dropStreams } from './jetstream-baseline.mjs';

const CLI = new URL('../dist/presentation/cli/main.js', import.meta.url).pathname;
export const REDIS_URL = process.env.AGENTMESH_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A port free right now on loopback. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Logs at warn, as the in-process benchmarks do: Fastify's two info lines per request would be measured too. */
async function startInstance(env, nodeArgs = []) {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve'], {
    env: { ...process.env, AGENTMESH_PORT: String(port), AGENTMESH_LOG_LEVEL: 'warn', AGENTMESH_ADMIN_KEY: BENCH_ADMIN_KEY, AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_MAX_QUEUED_PER_TENANT: '1000000', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (gone) throw new Error(`agentmesh serve exited before it listened (exit ${await exited})`);
    if (await fetch(`${url}/health/live`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, pid: child.pid, exited, stop: () => (child.kill('SIGTERM'), exited) };
}

/** CPU time (user + system) a process has used, in µs, from /proc. */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100;
}

/**
 * CPU time (µs) used so far by the machine's service processes, by name: every PostgreSQL backend,
 * NATS and Redis. Matched by name: whatever else uses those servers meanwhile is counted too.
 */
const SERVICES = ['postgres', 'nats-server', 'redis-server'];
function servicesCpuMicros() {
  const used = Object.fromEntries(SERVICES.map((name) => [name, 0]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/u.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (!(name in used)) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    used[name] += ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100;
  }
  return used;
}

/**
 * `instances` processes on the database at `databaseUrl`; peak tasks/s over `total` tasks, and
 * submit-to-handler latency at `pacedRate` tasks/s when given. The first instance leads.
 */
export async function measureCluster({ databaseUrl, instances, total, agents = 4, pacedRate, pacedSeconds = 5, profileDir }) {
  const namespace = `bench_${process.pid}_${instances}_${Date.now().toString(36)}`;
  const redisPrefix = `bench-${process.pid}-${instances}-${Date.now().toString(36)}`;
  const env = { AGENTMESH_DATABASE_URL: databaseUrl, AGENTMESH_NATS_URL: NATS_URL, AGENTMESH_NATS_NAMESPACE: namespace, AGENTMESH_REDIS_URL: REDIS_URL, AGENTMESH_REDIS_PREFIX: redisPrefix };
  const leader = await startInstance(env, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
  const nodes = [leader];
  for (let i = 1; i < instances; i++) nodes.push(await startInstance(env));
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const created = await fetch(`${leader.url}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'bench', quotas: { maxTasksPerHour: 1_000_000_000 } }),
    }).then((r) => r.json());
    const worker = new Worker(new URL('./load-worker.mjs', import.meta.url), { workerData: { urls: nodes.map((n) => n.url), apiKey: created.apiKey.key, agents } });
    await once(worker, 'ready');
    const completed = async () => Number((await db.query("SELECT count(*) AS n FROM tasks WHERE status = 'completed'")).rows[0].n);
    const cpu0 = nodes.map((n) => cpuMicros(n.pid));
    // Backends that end during the run take their CPU with them: a floor, not an exact figure.
    const services0 = servicesCpuMicros();
    const load0 = process.cpuUsage();
    const begin = performance.now();
    worker.postMessage({ type: 'flood', total, window: 256 });
    while ((await completed()) < total) await new Promise((r) => setTimeout(r, 100));
    const seconds = (performance.now() - begin) / 1000;
    const cpuPerTask = nodes.map((n, i) => (cpuMicros(n.pid) - cpu0[i]) / total);
    const services1 = servicesCpuMicros();
    const load = process.cpuUsage(load0);
    // The client and the SDK agents (the worker thread) with this process's polling of the database.
    const servicesPerTask = Object.fromEntries(SERVICES.map((name) => [name, (services1[name] - services0[name]) / total]));
    const loadPerTask = (load.user + load.system) / total;
    let paced;
    if (pacedRate) {
      worker.postMessage({ type: 'paced', rate: pacedRate, seconds: pacedSeconds });
      const done = await once(worker, 'paced-done');
      const sorted = done.latencies.sort((a, b) => a - b);
      paced = { rate: pacedRate, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
    }
    worker.postMessage({ type: 'stop' });
    await once(worker, 'stopped');
    await worker.terminate();
    const machinePerTask = cpuPerTask.reduce((a, b) => a + b, 0) + loadPerTask + Object.values(servicesPerTask).reduce((a, b) => a + b, 0);
    return { instances, tasksPerSecond: total / seconds, cpuMicrosPerTask: cpuPerTask, servicesMicrosPerTask: servicesPerTask, loadMicrosPerTask: loadPerTask, machineMicrosPerTask: machinePerTask, paced };
  } finally {
    await db.end();
    for (const node of nodes.slice(1)) await node.stop();
    await leader.stop();
    await dropStreams(namespace);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
}

/** The self time of a V8 CPU profile, by where the code comes from, and its busiest functions. */
export function summarizeProfile(dir) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const total = profile.nodes.reduce((n, node) => n + node.hitCount, 0);
  const byOrigin = new Map();
  const byFunction = new Map();
  for (const { callFrame, hitCount } of profile.nodes) {
    if (hitCount === 0) continue;
    const origin = originOf(callFrame);
    if (origin === '(idle)') continue;
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + hitCount);
    const name = `${callFrame.functionName || '(anonymous)'} ${origin}${callFrame.url.includes('/dist/') ? `:${callFrame.url.split('/dist/')[1]}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hitCount);
  }
  const busy = total - (profile.nodes.filter((n) => originOf(n.callFrame) === '(idle)').reduce((n, node) => n + node.hitCount, 0));
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, hits]) => ({ name, percentOfBusy: (100 * hits) / busy }));
  return { busyPercent: (100 * busy) / total, origins: top(byOrigin, 8), functions: top(byFunction, 10) };
}

function originOf({ url, functionName }) {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)' || functionName === '(program)') return functionName;
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  if (url.includes('/dist/')) return 'agentmesh';
  if (url.startsWith('node:') || url === '') return 'node core';
  return url;
}

export function withProfileDir(work) {
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-prof-'));
  return Promise.resolve(work(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}
