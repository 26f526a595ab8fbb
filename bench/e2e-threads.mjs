import { Worker } from 'node:worker_threads';
import { startBenchMesh, percentile } from './e2e.mjs';
import { withScratchDatabase } from './postgres-scratch.mjs';

/** The worker's next message of this type. */
export function once(worker, type) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m.type === type || (type === 'ready' && m.ready)) {
        worker.off('message', on);
        resolve(m);
      }
    };
    worker.on('message', on);
  });
}

/** Peak tasks/s, submit -> agent -> complete, mesh on this thread, agents + client on a worker. */
export async function measurePeak({ total = 20_000, agents = 4, window = 256, env = {}, batching = true, logger } = {}) {
  const mesh = await startBenchMesh(env, logger);
  const worker = new Worker(new URL('./load-worker.mjs', import.meta.url), { workerData: { url: mesh.url, apiKey: mesh.apiKey, agents, batching } });
  await once(worker, 'ready');
  const stats = mesh.running.mesh.ctx.stats;
  const begin = performance.now();
  const cpu0 = process.cpuUsage();
  const base = stats.completed;
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);
  worker.postMessage({ type: 'flood', total, window });
  while (stats.completed - base < total) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - begin) / 1000;
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpu0);
  worker.postMessage({ type: 'stop' });
  await once(worker, 'stopped');
  await worker.terminate();
  await mesh.close();
  return { tasks: total, seconds, tasksPerSecond: total / seconds, cpuMicrosPerTask: (cpu.user + cpu.system) / total, rssPeakMb: rssPeak / 1048576 };
}

/** Submit-to-delivery latency at a fixed rate. */
export async function measurePaced({ rate, seconds = 5, agents = 4, env = {} }) {
  const mesh = await startBenchMesh(env);
  const worker = new Worker(new URL('./load-worker.mjs', import.meta.url), { workerData: { url: mesh.url, apiKey: mesh.apiKey, agents } });
  await once(worker, 'ready');
  const idleRss = process.memoryUsage().rss;
  worker.postMessage({ type: 'paced', rate, seconds });
  const done = await once(worker, 'paced-done');
  const loadRss = process.memoryUsage().rss;
  worker.postMessage({ type: 'stop' });
  await once(worker, 'stopped');
  await worker.terminate();
  await mesh.close();
  const sorted = done.latencies.sort((a, b) => a - b);
  return { rate, tasks: done.sent, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), idleRssMb: idleRss / 1048576, loadRssMb: loadRss / 1048576 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const total = Number(process.argv[2] ?? 10_000);
  const run = async (env) => {
    console.log('batched', await measurePeak({ total, env }));
    const single = await measurePeak({ total, env, batching: false });
    console.log('single requests', single);
    console.log(await measurePaced({ rate: Math.round(single.tasksPerSecond / 2), env }));
  };
  if (process.argv.includes('--postgres')) await withScratchDatabase((url) => run({ AGENTMESH_DATABASE_URL: url }));
  else await run({});
}
