// The secret store's budget: an agent's read of a secret (GET /v1/tasks/{id}/secrets/{name}: auth,
// lease check, envelope decryption, the audit entry committed before the answer) on embedded
// defaults, against an authenticated read of the same task (GET /v1/tasks/{id}) in the same run;
// and the vault's open alone against bare AES-256-GCM.
import Fastify from 'fastify';
import { Bench } from 'tinybench';
import { newKey, open, seal } from '../dist/infrastructure/security/secrets/aes-gcm.js';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { readTaskSecret } from '../dist/application/use-cases/read-task-secret.js';
import { percentile, startBenchMesh } from './e2e.mjs';

const run = promisify(execFile);
const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/**
 * Sequential GETs timed in a worker thread (its own heap and event loop: the client's pauses are not
 * the server's), over one kept-alive connection of node:http (fetch's own overhead and garbage
 * would be counted as the server's); percentiles in ms.
 */
const LATENCY_WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const http = require('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (url, headers) => new Promise((resolve, reject) => {
    http.get(url, { agent, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(url + ': ' + res.statusCode))));
    }).on('error', reject);
  });
  (async () => {
    const { url, headers, amount } = workerData;
    const latencies = [];
    for (let i = 0; i < amount; i++) {
      const started = performance.now();
      await get(url, headers);
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    const at = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
    parentPort.postMessage({ p50Ms: at(50), p99Ms: at(99), over2MsShare: latencies.filter((l) => l > 2).length / latencies.length });
  })().catch((error) => { throw error; });
`;

/** `work`'s result, and the collections of this (the mesh's) thread meanwhile: how many, and their median pause. */
async function withCollections(work) {
  const pauses = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push(entry.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    const result = await work();
    // Entries are delivered after the collection: let the last ones arrive.
    await new Promise((r) => setTimeout(r, 20));
    pauses.sort((a, b) => a - b);
    return { ...result, collections: pauses.length, collectionP50Ms: percentile(pauses, 50) };
  } finally {
    observer.disconnect();
  }
}

function latency(url, headers, amount) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LATENCY_WORKER, { eval: true, workerData: { url, headers, amount } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** The floor of the method: a bare Fastify GET route answering a small JSON document, timed the same way. */
async function bareFloor(amount) {
  const app = Fastify();
  app.get('/task', async () => ({ id: '01a24818-f476-7000-a62a-f51ac2d8b1e1', status: 'running', capability: 'read' }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    await latency(`${url}/task`, {}, 500);
    return await latency(`${url}/task`, {}, amount);
  } finally {
    await app.close();
  }
}

/** GETs from autocannon in its own process, for throughput. */
async function load(url, headers, { seconds, connections }) {
  const args = [autocannonBin, '-j', '-c', String(connections), '-d', String(seconds)];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  const r = JSON.parse(stdout);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return r.requests.average;
}

export async function measureSecretReads({ reads = 2000, seconds = 3 } = {}) {
  const floor = await bareFloor(reads);
  const mesh = await startBenchMesh();
  try {
    const admin = { authorization: `Bearer ${mesh.apiKey}`, 'content-type': 'application/json' };
    const call = async (method, path, body, headers = admin) => {
      const res = await fetch(mesh.url + path, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.status === 204 ? undefined : res.json();
    };
    const agentKey = (await call('POST', '/v1/api-keys', { name: 'bench agent', role: 'agent', agentId: 'bench-reader' })).key;
    const agent = { authorization: `Bearer ${agentKey}` };
    await call('POST', '/v1/agents', { name: 'reader', capabilities: [{ name: 'read' }] }, { ...agent, 'content-type': 'application/json' });
    await call('PUT', '/v1/secrets/token', { value: 'x'.repeat(64), policy: { capabilities: ['read'] } });
    const { id } = await call('POST', '/v1/tasks', { capability: 'read', leaseMs: 3_600_000, secrets: ['token'] });
    await call('GET', '/v1/agents/bench-reader/tasks/next?waitMs=5000', undefined, agent);
    const secretUrl = `${mesh.url}/v1/tasks/${id}/secrets/token`;
    const taskUrl = `${mesh.url}/v1/tasks/${id}`;
    // Warm both paths up, then measure them one after the other.
    await latency(secretUrl, agent, 500);
    await latency(taskUrl, agent, 500);
    const baseline = await withCollections(() => latency(taskUrl, agent, reads));
    const secret = await withCollections(() => latency(secretUrl, agent, reads));
    const baselineRps = await load(taskUrl, agent, { seconds, connections: 16 });
    const secretRps = await load(secretUrl, agent, { seconds, connections: 16 });

    // The read's own work, in process: the use case (lease check, cached sealed version, envelope
    // decryption) and the audit entry committed before the answer, without HTTP.
    const tenantId = (await mesh.running.mesh.ctx.tenants.listIds()).find((t) => t.startsWith('bench-'));
    const caller = { keyId: 'bench-key', tenantId, role: 'agent', platform: false, agentId: 'bench-reader' };
    const work = [];
    for (let i = 0; i < reads; i++) {
      const started = performance.now();
      const { version } = await readTaskSecret(mesh.running.mesh.ctx, caller, id, 'token');
      await mesh.running.mesh.audit.logAction({ tenantId, actor: { type: 'key', keyId: 'bench-key', role: 'agent', agentId: 'bench-reader' }, action: 'SECRET_ACCESSED', resourceType: 'secret', resourceId: 'token', status: 'success', details: { taskId: id, version } });
      work.push(performance.now() - started);
    }
    work.sort((a, b) => a - b);
    const ownWork = { p50Ms: percentile(work, 50), p99Ms: percentile(work, 99) };

    const key = newKey();
    const box = seal(key, Buffer.from('x'.repeat(64)), 'aad');
    const vault = mesh.running.mesh.ctx.vault;
    const sealed = await vault.seal('bench-tenant', 'aad', Buffer.from('x'.repeat(64)));
    const bench = new Bench({ time: 500 });
    bench.add('bare AES-256-GCM open', () => open(key, box, 'aad'));
    const tenantKey = await mesh.running.store.tenantKeys.get('bench-tenant', sealed.tenantKeyVersion);
    bench.add('vault open (two AES-GCM opens, the tenant key cached, its record given)', async () => vault.open('bench-tenant', 'aad', sealed, tenantKey));
    // What sealing an audit entry's personal data (address and user agent) under its subject's key costs.
    const personal = Buffer.from(JSON.stringify({ sourceIp: '10.0.3.7', userAgent: 'agentmesh-sdk/0.1 node/20' }));
    await mesh.running.mesh.ctx.personalData.seal('bench-tenant', 'bench-key', personal);
    bench.add('audit personal data seal (subject key remembered)', async () => mesh.running.mesh.ctx.personalData.seal('bench-tenant', 'bench-key', personal));
    await bench.run();
    const [bare, vaultOpen, personalSeal] = bench.tasks.map((t) => t.result.latency.mean * 1000);
    return { floor, baseline, secret, ownWork, baselineRps, secretRps, bareOpenMicros: bare, vaultOpenMicros: vaultOpen, personalSealMicros: personalSeal };
  } finally {
    await mesh.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await measureSecretReads());
