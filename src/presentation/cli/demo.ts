import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../config.js';
import { Agent, AgentMeshClient, type RoutingStrategy, type Task } from '../../sdk/index.js';
import { startMesh } from '../compose.js';
import type { CliIo } from './cli-io.js';
import type { DemoOptions } from './demo-options.js';
import { PLAIN } from '../../domain/plain.js';

const STRATEGIES: RoutingStrategy[] = ['round_robin', 'least_loaded', 'capability_based', 'affinity', 'priority'];
const ADMIN_KEY = `demo-admin-${process.pid}-${Date.now()}`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function bar(done: number, total: number, width = 30): string {
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** The in-process mesh's log, for a person: one line per warning or error, its message only (not JSON amid the demo's output). */
const humanLog = (stderr: CliIo['stderr']) =>
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const { level, msg } = JSON.parse(line) as { level: number; msg: string };
          stderr.write(`${level >= 50 ? 'error' : 'warning'}: ${msg}\n`);
        } catch {
          stderr.write(`${line}\n`);
        }
      }
      done();
    },
  });

/**
 * `agentmesh demo`: a mesh in-process on embedded defaults (a temporary data directory), agents
 * joined over HTTP with the SDK, a few thousand tasks through every strategy, a summary at the end.
 */
export async function demo(options: DemoOptions, io: CliIo): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agentmesh-demo-'));
  const config = loadConfig({ ...PLAIN, ...io.env, AGENTMESH_DATA_DIR: dataDir, AGENTMESH_PORT: '0', AGENTMESH_ADMIN_KEY: ADMIN_KEY, AGENTMESH_RETRY_BASE_MS: '50' });
  const out = (line: string) => io.stdout.write(`${line}\n`);
  out(`AgentMesh demo: embedded PostgreSQL (PGlite) in ${dataDir}, in-memory broker`);
  const running = await startMesh(config, { listen: true, logger: pino({ level: 'warn' }, humanLog(io.stderr)) });
  const url = running.url!;
  const client = new AgentMeshClient({ url, apiKey: ADMIN_KEY });
  const agents: Agent[] = [];
  try {
    const n = options.agentsPerCapability;
    for (let i = 0; i < n; i++) {
      const agent = new Agent({
        url,
        apiKey: ADMIN_KEY,
        id: `worker-${i + 1}`,
        name: `worker ${i + 1}`,
        capabilities: [{ name: 'summarize', proficiency: 1 + (i % 5) }, { name: 'translate', proficiency: 5 - (i % 5) }, 'flaky', 'doomed'],
        maxConcurrentTasks: 8,
      })
        .handle('summarize', (input: { text: string }) => ({ summary: input.text.slice(0, 24) }))
        .handle('translate', (input: { text: string }) => ({ text: [...input.text].reverse().join('') }))
        .handle('flaky', (input: { n: number }, ctx) => {
          if (ctx.task.attempt === 1) throw new Error(`transient failure on attempt 1 of task ${input.n}`);
          return { ok: true, attempt: ctx.task.attempt };
        })
        .handle('doomed', () => {
          throw new Error('this task always fails');
        });
      agents.push(await agent.start());
    }
    const broadcaster = async (i: number) =>
      new Agent({ url, apiKey: ADMIN_KEY, id: `auditor-${i}`, name: `auditor ${i}`, capabilities: ['inventory'] })
        .handle('inventory', (_input, ctx) => ({ agent: ctx.agentId }))
        .start();
    agents.push(await broadcaster(1), await broadcaster(2), await broadcaster(3));
    // A tool credential kept in the mesh: only the agent working a task that lists it reads it, with its own key.
    const secretValue = `demo-token-${randomBytes(8).toString('hex')}`;
    await client.putSecret('weather-api-token', secretValue, { capabilities: ['forecast'] }, 'token of the demo weather API');
    const fetcherKey = await client.http.json<{ key: string }>('POST', '/v1/api-keys', { body: { name: 'forecaster', role: 'agent', agentId: 'forecaster-1' } });
    agents.push(
      await new Agent({ url, apiKey: fetcherKey.key, id: 'forecaster-1', name: 'forecaster', capabilities: ['forecast'], maxConcurrentTasks: 8 })
        .handle('forecast', async (input: { city: string }, ctx) => {
          const token = await ctx.secret('weather-api-token');
          return { city: input.city, forecast: 'sunny', authenticated: token === secretValue };
        })
        .start(),
    );
    out(`${agents.length} agents joined: ${n} workers (summarize, translate, flaky, doomed), 3 auditors (inventory) and 1 forecaster (forecast, with a secret)`);

    // The plan: most tasks spread over the strategies, some flaky ones that retry, one that dead-letters, a few broadcasts.
    const plan: Array<{ capability: string; input: unknown; strategy: RoutingStrategy; priority?: number; affinityKey?: string; maxAttempts?: number; secrets?: string[] }> = [];
    const flaky = Math.max(10, Math.floor(options.tasks * 0.02));
    const broadcasts = 5;
    const forecasts = 20;
    for (let i = 0; plan.length < options.tasks - flaky - broadcasts - forecasts - 1; i++) {
      const strategy = STRATEGIES[i % STRATEGIES.length]!;
      plan.push({
        capability: i % 2 === 0 ? 'summarize' : 'translate',
        input: { text: `document ${i}: the quick brown fox jumps over the lazy dog` },
        strategy,
        ...(strategy === 'priority' && { priority: i % 10 }),
        ...(strategy === 'affinity' && { affinityKey: `customer-${i % 40}` }),
      });
    }
    // Flaky tasks come among the others, as transient failures do: a run of them on one agent would trip its circuit breaker (docs/resilience.md).
    const step = Math.floor(plan.length / flaky);
    for (let i = flaky - 1; i >= 0; i--) plan.splice(i * step, 0, { capability: 'flaky', input: { n: i }, strategy: 'round_robin' });
    for (let i = 0; i < forecasts; i++) plan.push({ capability: 'forecast', input: { city: `city ${i}` }, strategy: 'round_robin', secrets: ['weather-api-token'] });
    for (let i = 0; i < broadcasts; i++) plan.push({ capability: 'inventory', input: { round: i }, strategy: 'broadcast' });
    plan.push({ capability: 'doomed', input: {}, strategy: 'round_robin', maxAttempts: 3 });

    const started = Date.now();
    const stats = running.mesh.ctx.stats;
    const baseline = stats.snapshot();
    const settledCount = () => {
      const s = stats.snapshot();
      return s.completed + s.failed + s.deadLettered - (baseline.completed + baseline.failed + baseline.deadLettered);
    };
    const expected = plan.length + plan.filter((p) => p.strategy === 'broadcast').length * 3;
    let ticker: NodeJS.Timeout | undefined;
    // A live bar on a terminal; into a pipe or a file, a plain line every two seconds.
    const live = io.stderr.isTTY === true;
    if (options.progress) {
      ticker = setInterval(
        () => {
          const done = settledCount();
          const rate = Math.round(done / ((Date.now() - started) / 1000));
          const line = `${bar(done, expected)} ${pad(done, 6)}/${expected} settled · ${pad(rate, 5)} tasks/s · retries ${stats.retried}`;
          io.stderr.write(live ? `\r${line}   ` : `${line}\n`);
        },
        live ? 200 : 2000,
      );
    }
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < plan.length) {
          const p = plan[next++]!;
          const { id } = await client.submit(p.capability, p.input, {
            routing: { strategy: p.strategy, ...(p.affinityKey !== undefined && { affinityKey: p.affinityKey }) },
            ...(p.priority !== undefined && { priority: p.priority }),
            ...(p.maxAttempts !== undefined && { maxAttempts: p.maxAttempts }),
            ...(p.secrets !== undefined && { secrets: p.secrets }),
          });
          ids.push(id);
        }
      }),
    );
    const submittedAt = Date.now();
    await Promise.all(ids.slice(-broadcasts - 1).map((id) => client.waitForResult(id, { timeoutMs: 60_000 })));
    while (settledCount() < expected && Date.now() - submittedAt < 60_000) await new Promise((r) => setTimeout(r, 20));
    const elapsed = (Date.now() - started) / 1000;
    clearInterval(ticker);
    if (options.progress) io.stderr.write(`${live ? '\r' : ''}${bar(1, 1)} ${pad(expected, 6)}/${expected} settled${live ? ' '.repeat(40) : ''}\n`);

    // Read every task back for the summary.
    const tasks: Task[] = [];
    for (let cursor: string | undefined; ; ) {
      const page = await client.list({ limit: 500, ...(cursor !== undefined && { cursor }) });
      tasks.push(...page.items);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const top = tasks.filter((t) => t.parentId === undefined);
    const latencies = top.filter((t) => t.status === 'completed').map((t) => t.finishedAt! - t.createdAt).sort((a, b) => a - b);
    out('');
    out(`Settled ${top.length} tasks (+${tasks.length - top.length} broadcast copies) in ${elapsed.toFixed(2)} s: ${Math.round(tasks.length / elapsed)} tasks/s`);
    out(`Submit to completion: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`);
    out('');
    out(`${'strategy'.padEnd(18)}${pad('tasks', 7)}${pad('done', 7)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}  per-agent spread (min / max tasks)`);
    const strategies = [...new Set(top.map((t) => t.routing.strategy))];
    for (const strategy of strategies) {
      const group = top.filter((t) => t.routing.strategy === strategy);
      const done = group.filter((t) => t.status === 'completed');
      const lat = done.map((t) => t.finishedAt! - t.createdAt).sort((a, b) => a - b);
      const perAgent = new Map<string, number>();
      const counted = strategy === 'broadcast' ? tasks.filter((t) => t.parentId !== undefined) : group;
      for (const t of counted) if (t.agentId) perAgent.set(t.agentId, (perAgent.get(t.agentId) ?? 0) + 1);
      const counts = [...perAgent.values()];
      const spread = counts.length ? `${Math.min(...counts)} / ${Math.max(...counts)} over ${counts.length} agents` : '-';
      out(`${strategy.padEnd(18)}${pad(group.length, 7)}${pad(done.length, 7)}${pad(percentile(lat, 50), 8)}${pad(percentile(lat, 99), 8)}  ${spread}`);
    }
    const s = stats.snapshot();
    const dead = await client.deadLetters();
    out('');
    out(`Retries: ${s.retried} (flaky tasks fail their first attempt, then succeed)`);
    out(`Dead letters: ${dead.items.length} (${dead.items.map((t) => `${t.capability} after ${t.attempts} attempts: ${t.error?.message}`).join('; ')})`);
    out(`Failed: ${top.filter((t) => t.status === 'failed').length}, still open: ${top.filter((t) => !['completed', 'failed', 'dead_lettered', 'canceled'].includes(t.status)).length}`);
    const forecastsDone = top.filter((t) => t.capability === 'forecast' && t.status === 'completed' && (t.output as { authenticated?: boolean }).authenticated === true).length;
    const secretReads = await client.http.json<{ items: unknown[] }>('GET', '/v1/audit', { query: { action: 'SECRET_ACCESSED', limit: 500 } });
    out(`Secrets: ${forecastsDone} forecasts used the weather API token, read by their agent for each task; ${secretReads.items.length} reads recorded in the audit log (SECRET_ACCESSED, never the value; see docs/secrets.md)`);
    const audit = await client.http.json<{ intact: boolean; entries: number }>('GET', '/v1/audit/verify');
    out(`Audit log: ${audit.entries} entries in the tenant's hash chain, ${audit.intact ? 'verified intact' : 'BROKEN'} (GET /v1/audit/verify; see docs/security.md)`);
  } finally {
    await Promise.all(agents.map((a) => a.stop({ graceMs: 2000 })));
    await running.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
