// Fairness between tenants: a quiet tenant's submit-to-delivery p99 alone, and beside a tenant
// submitting at 10 times its rate (issue 9's goal: within 2x). Each tenant's client and agents run
// in a worker thread of their own, so the mesh's thread does only the mesh's work. Rounds alternate
// (quiet alone, then both), so that whatever else the machine does falls on both figures alike.
import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { AgentMeshClient } from '../dist/sdk/index.js';
import { BENCH_ADMIN_KEY, percentile, startBenchMesh } from './e2e.mjs';
import { once } from './e2e-threads.mjs';
import { withScratchDatabase } from './postgres-scratch.mjs';

/**
 * A tenant's client and agents: a worker thread of this process, or (`niceness`) a process of its
 * own at that lower priority, as clients on other machines would not take the mesh's cores.
 */
async function tenantWorker(mesh, id, niceness) {
  const admin = new AgentMeshClient({ url: mesh.url, apiKey: BENCH_ADMIN_KEY });
  const created = await admin.http.json('POST', '/v1/tenants', { body: { id, quotas: { maxTasksPerHour: 1_000_000_000 } } });
  const workerData = { url: mesh.url, apiKey: created.apiKey.key, agents: 2 };
  const script = new URL('./load-worker.mjs', import.meta.url);
  let worker;
  if (niceness === undefined) worker = new Worker(script, { workerData });
  else {
    const child = fork(script, [JSON.stringify(workerData)], { stdio: 'inherit' });
    setPriority(child.pid, niceness);
    worker = { postMessage: (m) => child.send(m), on: (e, f) => child.on(e, f), off: (e, f) => child.off(e, f), terminate: () => child.kill() };
    await Promise.race([once(worker, 'ready'), new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${id}'s load process exited (code ${code}) before it was ready`))))]);
    return worker;
  }
  await once(worker, 'ready');
  return worker;
}

async function paced(worker, rate, seconds, warmupSeconds = 0) {
  worker.postMessage({ type: 'paced', rate, seconds, warmupSeconds });
  return (await once(worker, 'paced-done')).latencies;
}

/** `loudApart`: the loud tenant's client and agents in a process of their own at the lowest priority (see tenantWorker). */
export async function measureFairness({ quietRate = 20, factor = 10, rounds = 30, roundSeconds = 2, env = {}, loudApart = false } = {}) {
  const mesh = await startBenchMesh(env);
  const quiet = await tenantWorker(mesh, 'fair-quiet');
  const loud = await tenantWorker(mesh, 'fair-loud', loudApart ? 19 : undefined);
  try {
    // Warm-up of both (connections, JIT, the store's first pages), not measured.
    await Promise.all([paced(quiet, quietRate, 0, 1), paced(loud, quietRate * factor, 0, 1)]);
    const alone = [];
    const beside = [];
    let loudTasks = 0;
    // What the mesh's thread went through in each phase: event loop delay, and garbage collection pauses.
    const phases = { alone: { loop: monitorEventLoopDelay({ resolution: 1 }), gcMs: 0, gcMax: 0 }, beside: { loop: monitorEventLoopDelay({ resolution: 1 }), gcMs: 0, gcMax: 0 } };
    let phase;
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (!phase) continue;
        phase.gcMs += entry.duration;
        phase.gcMax = Math.max(phase.gcMax, entry.duration);
      }
    });
    gc.observe({ entryTypes: ['gc'] });
    const during = async (name, work) => {
      phase = phases[name];
      phase.loop.enable();
      try {
        return await work();
      } finally {
        phase.loop.disable();
        phase = undefined;
      }
    };
    for (let round = 0; round < rounds; round++) {
      alone.push(...(await during('alone', () => paced(quiet, quietRate, roundSeconds))));
      const [q, l] = await during('beside', () => Promise.all([paced(quiet, quietRate, roundSeconds), paced(loud, quietRate * factor, roundSeconds)]));
      beside.push(...q);
      loudTasks += l.length;
    }
    gc.disconnect();
    const loopP99 = (p) => p.loop.percentile(99) / 1e6;
    const p99 = (values) => percentile([...values].sort((a, b) => a - b), 99);
    const p50 = (values) => percentile([...values].sort((a, b) => a - b), 50);
    return {
      quietRate,
      loudRate: quietRate * factor,
      quietTasks: alone.length + beside.length,
      loudTasks,
      aloneP50Ms: p50(alone),
      aloneP99Ms: p99(alone),
      besideP50Ms: p50(beside),
      besideP99Ms: p99(beside),
      ratio: p99(beside) / p99(alone),
      loopDelayP99Ms: { alone: loopP99(phases.alone), beside: loopP99(phases.beside) },
      gcPauseMs: { alone: phases.alone.gcMs, beside: phases.beside.gcMs },
      gcLongestMs: { alone: phases.alone.gcMax, beside: phases.beside.gcMax },
    };
  } finally {
    for (const worker of [quiet, loud]) {
      worker.postMessage({ type: 'stop' });
      await once(worker, 'stopped');
      await worker.terminate();
    }
    await mesh.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `node bench/fairness.mjs [postgres] [--loud-apart]`: on a scratch PostgreSQL database (the
  // machine's server) instead of PGlite; the loud tenant's load from a process of lowest priority.
  const onPostgres = process.argv.includes('postgres');
  const loudApart = process.argv.includes('--loud-apart');
  const r = onPostgres ? await withScratchDatabase((url) => measureFairness({ env: { AGENTMESH_DATABASE_URL: url }, loudApart })) : await measureFairness({ loudApart });
  console.log(`${onPostgres ? 'on PostgreSQL' : 'on PGlite (embedded)'}${loudApart ? ", the loud tenant's load from a process of lowest priority" : ''}:`);
  console.log(
    `quiet tenant ${r.quietRate}/s, loud ${r.loudRate}/s (${r.loudTasks} tasks): quiet p50 / p99 submit-to-delivery ${r.aloneP50Ms.toFixed(1)} / ${r.aloneP99Ms.toFixed(1)} ms alone, ${r.besideP50Ms.toFixed(1)} / ${r.besideP99Ms.toFixed(1)} ms beside the loud one: p99 ratio ${r.ratio.toFixed(2)} (goal <= 2)`,
  );
  console.log(
    `mesh thread, alone / beside: event loop delay p99 ${r.loopDelayP99Ms.alone.toFixed(1)} / ${r.loopDelayP99Ms.beside.toFixed(1)} ms; GC pauses ${r.gcPauseMs.alone.toFixed(0)} / ${r.gcPauseMs.beside.toFixed(0)} ms in all, longest ${r.gcLongestMs.alone.toFixed(1)} / ${r.gcLongestMs.beside.toFixed(1)} ms`,
  );
}
