// Runs the SDK agents and the submitting client in a worker thread, so they use the second core
// and the mesh's own thread is what gets measured; or in a process of its own (`node
// load-worker.mjs '<workerData as JSON>'`, messages over IPC), whose priority the caller may lower.
import { parentPort as threadPort, workerData as threadData } from 'node:worker_threads';
import { Agent, AgentMeshClient } from '../dist/sdk/index.js';

const parentPort = threadPort ?? { postMessage: (message) => process.send(message), on: (event, listener) => process.on(event, listener) };
// A process of its own ends with its parent (its agents' open connections would keep it alive).
if (!threadPort) process.on('disconnect', () => process.exit(0));
const workerData = threadPort ? threadData : JSON.parse(process.argv[2]);
// `urls`: several instances of one mesh; agents and submits are spread over them.
const { url, urls = [url], apiKey, agents: agentCount, batching = true } = workerData;
const latencies = [];
const workers = [];
for (let i = 0; i < agentCount; i++) {
  const agent = new Agent({ url: urls[i % urls.length], apiKey, name: `bench-${i}`, capabilities: ['work'], maxConcurrentTasks: 64, batching }).handle('work', (input) => {
    if (input.t !== undefined && input.measure) latencies.push(performance.timeOrigin + performance.now() - input.t);
    return { ok: true };
  });
  workers.push(await agent.start());
}
const clients = urls.map((u) => new AgentMeshClient({ url: u, apiKey, batching }));
let nextClient = 0;
const client = { submit: (...args) => clients[nextClient++ % clients.length].submit(...args) };
parentPort.postMessage({ ready: true });

parentPort.on('message', async (msg) => {
  if (msg.type === 'flood') {
    // Keep `window` submits outstanding until `total` are sent.
    let sent = 0;
    await Promise.all(
      Array.from({ length: msg.window }, async () => {
        while (sent < msg.total) {
          sent++;
          await client.submit('work', { n: sent });
        }
      }),
    );
    parentPort.postMessage({ type: 'flooded', sent });
  } else if (msg.type === 'paced') {
    latencies.length = 0;
    // The first `warmupSeconds` run at the same rate but are not measured (JIT, WASM memory growth).
    const interval = 1000 / msg.rate;
    const warmupMs = (msg.warmupSeconds ?? 2) * 1000;
    const begin = performance.now();
    let sent = 0;
    let measured = 0;
    // Submits in flight are counted, not kept: holding every answer until the end would make the
    // load's own heap grow and its collections pause the measurement.
    let inFlight = 0;
    let failure;
    const settled = () => inFlight--;
    while (performance.now() - begin < warmupMs + msg.seconds * 1000) {
      const due = Math.floor((performance.now() - begin) / interval);
      while (sent < due) {
        sent++;
        const measure = performance.now() - begin >= warmupMs;
        if (measure) measured++;
        inFlight++;
        client.submit('work', { t: performance.timeOrigin + performance.now(), measure }).then(settled, (error) => {
          failure ??= error;
          settled();
        });
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 1));
    if (failure) throw failure;
    while (latencies.length < measured) await new Promise((r) => setTimeout(r, 5));
    parentPort.postMessage({ type: 'paced-done', sent: measured, latencies });
  } else if (msg.type === 'stop') {
    await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
    parentPort.postMessage({ type: 'stopped' });
  }
});
