// End-to-end throughput and latency: submit -> agent (in-process SDK, over HTTP) -> complete.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../dist/config.js';
import { startMesh } from '../dist/presentation/compose.js';
import { Agent, AgentMeshClient } from '../dist/sdk/index.js';

export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789';

/** `logger`: the mesh's logger (default: pino at warn, so request lines are not measured). */
export async function startBenchMesh(extraEnv = {}, logger = pino({ level: 'warn' })) {
  const dataDir = mkdtempSync(join(tmpdir(), 'agentmesh-bench-'));
  const config = loadConfig({
    AGENTMESH_DATA_DIR: dataDir,
    AGENTMESH_PORT: '0',
    AGENTMESH_ADMIN_KEY: BENCH_ADMIN_KEY,
    AGENTMESH_MAX_QUEUED_PER_TENANT: '1000000',
    // Counted as in production, but high enough never to refuse: a benchmark measures the work, not the limit.
    AGENTMESH_RATE_LIMIT_PER_KEY: '100000000',
    AGENTMESH_RATE_LIMIT_PER_TENANT: '1000000000',
    ...extraEnv,
  });
  const running = await startMesh(config, { listen: true, logger });
  const admin = new AgentMeshClient({ url: running.url, apiKey: BENCH_ADMIN_KEY });
  // A tenant whose hourly quota does not cap the benchmark.
  const created = await admin.http.json('POST', '/v1/tenants', { body: { id: `bench-${Date.now()}`, quotas: { maxTasksPerHour: 1_000_000_000 } } });
  return {
    running,
    url: running.url,
    apiKey: created.apiKey.key,
    async close() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function startAgents(mesh, count, onTask) {
  const agents = [];
  for (let i = 0; i < count; i++) {
    const agent = new Agent({ url: mesh.url, apiKey: mesh.apiKey, name: `bench-${i}`, capabilities: ['work'], maxConcurrentTasks: 32 }).handle('work', (input) => {
      onTask?.(input);
      return { ok: true };
    });
    agents.push(await agent.start());
  }
  return agents;
}

/** Peak: keep `concurrency` tasks in flight (submit, then long-poll the result) until `total` complete. */
export async function measureThroughput({ total = 20_000, concurrency = 256, agents = 4 } = {}) {
  const mesh = await startBenchMesh();
  const workers = await startAgents(mesh, agents);
  const client = new AgentMeshClient({ url: mesh.url, apiKey: mesh.apiKey });
  const stats = mesh.running.mesh.ctx.stats;
  const batcher = mesh.running.store.batcher;
  const warm = 2000;
  let submitted = 0;
  const submitOne = async () => {
    while (submitted < total + warm) {
      submitted++;
      await client.submit('work', { n: submitted });
    }
  };
  // Submitters stay ahead of completion by at most `concurrency` queued tasks.
  const base = { completed: stats.completed, flushes: batcher.flushes, written: batcher.written };
  let started = 0;
  let startCompleted = 0;
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);
  const submitters = Array.from({ length: 16 }, async () => {
    while (submitted < total + warm) {
      while (stats.submitted - stats.completed > concurrency) await new Promise((r) => setImmediate(r));
      if (started === 0 && stats.completed - base.completed >= warm) {
        started = performance.now();
        startCompleted = stats.completed;
      }
      submitted++;
      await client.submit('work', { n: submitted });
    }
  });
  void submitOne;
  await Promise.all(submitters);
  while (stats.completed - base.completed < total + warm) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const result = {
    tasks: stats.completed - startCompleted,
    seconds,
    tasksPerSecond: (stats.completed - startCompleted) / seconds,
    writesPerCommit: (batcher.written - base.written) / Math.max(1, batcher.flushes - base.flushes),
    rssPeakMb: rssPeak / 1024 / 1024,
  };
  await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
  await mesh.close();
  return result;
}

/** Submit at a fixed rate; latency from the submit call to the handler receiving the task. */
export async function measureLatency({ rate, seconds = 5, agents = 4 }) {
  const mesh = await startBenchMesh();
  const latencies = [];
  const workers = await startAgents(mesh, agents, (input) => latencies.push(performance.now() - input.t));
  const client = new AgentMeshClient({ url: mesh.url, apiKey: mesh.apiKey });
  const idleRss = process.memoryUsage().rss;
  const interval = 1000 / rate;
  const begin = performance.now();
  let sent = 0;
  const pending = [];
  while (performance.now() - begin < seconds * 1000) {
    const due = Math.floor((performance.now() - begin) / interval);
    while (sent < due) {
      sent++;
      pending.push(client.submit('work', { t: performance.now() }));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  while (latencies.length < sent) await new Promise((r) => setTimeout(r, 5));
  const loadRss = process.memoryUsage().rss;
  await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
  await mesh.close();
  const sorted = latencies.sort((a, b) => a - b);
  return { rate, tasks: sent, p50: percentile(sorted, 50), p99: percentile(sorted, 99), idleRssMb: idleRss / 1048576, loadRssMb: loadRss / 1048576 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measureThroughput({ total: Number(process.argv[2] ?? 10_000) });
  console.log(r);
}
