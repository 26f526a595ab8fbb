// POST /v1/tasks against a bare Fastify route with the same body schema (the baseline), each
// loaded by autocannon in its own process so the server under test has its thread to itself.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { SubmitTaskBody, SubmitTaskReply } from '../dist/presentation/api/schemas.js';
import { startBenchMesh } from './e2e.mjs';

const run = promisify(execFile);
const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

export const TASK_BODY = JSON.stringify({ capability: 'work', input: { text: 'summarize: the quick brown fox jumps over the lazy dog' }, priority: 5 });

export const BATCH_SIZE = 100;
const BATCH_BODY = JSON.stringify({ tasks: Array.from({ length: BATCH_SIZE }, () => JSON.parse(TASK_BODY)) });

async function load(url, headers, seconds, connections, body = TASK_BODY) {
  const args = [autocannonBin, '-j', '-d', String(seconds), '-c', String(connections), '-m', 'POST', '-b', body, '-H', 'content-type=application/json'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  const r = JSON.parse(stdout);
  return { requestsPerSecond: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

export async function measureHttp({ seconds = 5, connections = 32 } = {}) {
  const bare = Fastify();
  bare.post('/v1/tasks', { schema: { body: SubmitTaskBody, response: { 202: SubmitTaskReply } } }, async (_req, reply) =>
    reply.code(202).send({ id: randomUUID(), status: 'queued', created: true }),
  );
  const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
  const baseline = await load(`${bareUrl}/v1/tasks`, {}, seconds, connections);
  await bare.close();

  const mesh = await startBenchMesh();
  const auth = { authorization: `Bearer ${mesh.apiKey}` };
  const submit = await load(`${mesh.url}/v1/tasks`, auth, seconds, connections);
  const before = mesh.running.mesh.ctx.stats.submitted;
  const batch = await load(`${mesh.url}/v1/tasks/batch`, auth, seconds, 4, BATCH_BODY);
  const batchedTasks = mesh.running.mesh.ctx.stats.submitted - before;
  await mesh.close();
  return {
    baseline,
    submit,
    ratio: submit.requestsPerSecond / baseline.requestsPerSecond,
    storedTasks: before,
    batch: { ...batch, tasksPerSecond: batch.requestsPerSecond * BATCH_SIZE, storedTasks: batchedTasks },
    batchRatio: (batch.requestsPerSecond * BATCH_SIZE) / baseline.requestsPerSecond,
  };
}

/**
 * POST /v1/tasks with the API edge on (rate limits counted per key and tenant, one request-log
 * line per request, at info level into a discarding stream) against the same mesh with both off,
 * alternating runs so the machine's drift falls on both. Authentication and the audit are on in both.
 */
export async function measureEdge({ seconds = 5, connections = 32, rounds = 2 } = {}) {
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  const on = [];
  const off = [];
  for (let round = 0; round < rounds; round++) {
    for (const edge of [true, false]) {
      // On: limits high enough never to refuse, so what is measured is their counting.
      const limits = edge ? { AGENTMESH_RATE_LIMIT_PER_KEY: '100000000', AGENTMESH_RATE_LIMIT_PER_TENANT: '1000000000' } : { AGENTMESH_RATE_LIMIT_PER_KEY: '0', AGENTMESH_RATE_LIMIT_PER_TENANT: '0' };
      const mesh = await startBenchMesh(limits, pino({ level: edge ? 'info' : 'warn' }, discard));
      const result = await load(`${mesh.url}/v1/tasks`, { authorization: `Bearer ${mesh.apiKey}` }, seconds, connections);
      (edge ? on : off).push(result.requestsPerSecond);
      await mesh.close();
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { on: mean(on), off: mean(off), ratio: mean(on) / mean(off) };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await measureHttp(), await measureEdge());
