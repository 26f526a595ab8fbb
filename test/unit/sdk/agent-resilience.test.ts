import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, AgentMeshError, type AgentOptions, type DeliveredTask } from '../../../src/sdk/index.js';
import { drop, fakeServer, json, problem, sleep, type FakeServer, type Hit } from './fake-server.js';

type Route = (n: number, hit: Hit, res: ServerResponse) => void | Promise<void>;

interface Mesh {
  server: FakeServer;
  /** Open stream responses, newest last. */
  streams: ServerResponse[];
}

const delivered = (id: string, attempt = 1): DeliveredTask => ({ id, capability: 'c', input: { id }, priority: 5, attempt, assignedAt: 1_700_000_000_000 + attempt, maxAttempts: 3, leaseMs: 60_000, leaseExpiresAt: Date.now() + 60_000 });

function sse(res: ServerResponse, tasks: DeliveredTask[] = []): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(': connected\n\n');
  for (const t of tasks) res.write(`event: task\nid: ${t.id}:${t.attempt}\ndata: ${JSON.stringify(t)}\n\n`);
}

/** Just enough of a mesh for one agent 'a1'; the test decides how the stream, polls and settlements answer. */
async function fakeMesh(routes: { stream?: Route; next?: Route; complete?: Route; heartbeat?: Route } = {}): Promise<Mesh> {
  const counts = new Map<string, number>();
  const streams: ServerResponse[] = [];
  const server = await fakeServer(async (hit, res) => {
    const route = `${hit.method} ${hit.path.replace(/\/v1\/tasks\/[^/]+\//u, '/v1/tasks/:id/')}`;
    const n = (counts.get(route) ?? 0) + 1;
    counts.set(route, n);
    switch (route) {
      case 'POST /v1/agents':
        return json(res, 201, { id: 'a1', status: 'available' });
      case 'DELETE /v1/agents/a1':
        return json(res, 200, { id: 'a1', status: 'terminated' });
      case 'POST /v1/agents/a1/heartbeat':
        return routes.heartbeat ? routes.heartbeat(n, hit, res) : json(res, 200, { id: 'a1' });
      case 'GET /v1/agents/a1/stream':
        streams.push(res);
        return routes.stream ? routes.stream(n, hit, res) : sse(res);
      case 'GET /v1/agents/a1/tasks/next':
        if (routes.next) return routes.next(n, hit, res);
        await sleep(50);
        return void res.writeHead(204).end();
      case 'POST /v1/tasks/:id/complete':
        return routes.complete ? routes.complete(n, hit, res) : json(res, 200, { id: hit.path.split('/')[3], status: 'completed' });
      case 'POST /v1/tasks/:id/extend':
        return json(res, 200, { id: hit.path.split('/')[3], status: 'running' });
      default:
        return problem(res, 404, 'not_found');
    }
  });
  return { server, streams };
}

let mesh: Mesh | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.stop({ graceMs: 100 });
  agent = undefined;
  await mesh?.server.close();
  mesh = undefined;
});

async function startAgent(m: Mesh, options: Partial<AgentOptions> = {}, handler: (input: unknown) => unknown = (input) => ({ done: input })) {
  const errors: unknown[] = [];
  let runs = 0;
  agent = await new Agent({
    url: m.server.url,
    apiKey: 'k',
    name: 'n',
    capabilities: ['c'],
    heartbeatIntervalMs: 60_000,
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
    onError: (e) => errors.push(e),
    ...options,
  })
    .handle('c', (input) => (runs++, handler(input)))
    .start();
  return { agent, errors, runs: () => runs };
}

async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const gap = (hits: Hit[], i: number) => hits[i]!.at - hits[i - 1]!.at;

describe('Agent: reconnecting its stream', () => {
  it('waits out a 503’s Retry-After before reconnecting, then works the task', async () => {
    mesh = await fakeMesh({ stream: (n, _h, res) => (n === 1 ? problem(res, 503, 'unavailable', { 'retry-after': '1' }) : sse(res, [delivered('t1')])) });
    const { agent: a, errors } = await startAgent(mesh);
    await until(() => a.completed === 1, 5000, 'the task to complete');
    const streams = mesh.server.on('GET /v1/agents/a1/stream');
    expect(streams).toHaveLength(2);
    expect(gap(streams, 1)).toBeGreaterThanOrEqual(990);
    expect(errors.map((e) => (e as AgentMeshError).status)).toEqual([503]);
  });

  it('reconnects after cut connections, with backoff, and loses no task', async () => {
    mesh = await fakeMesh({ stream: (n, _h, res) => (n <= 3 ? drop(res) : sse(res, [delivered('t1')])) });
    const { agent: a, errors } = await startAgent(mesh);
    await until(() => a.completed === 1, 5000, 'the task to complete');
    expect(mesh.server.on('GET /v1/agents/a1/stream')).toHaveLength(4);
    expect(errors).toHaveLength(3);
    expect(errors.every((e) => e instanceof TypeError)).toBe(true);
  });

  it('takes a silent stream for dead after streamIdleTimeoutMs and reconnects', async () => {
    mesh = await fakeMesh({ stream: (n, _h, res) => (n === 1 ? sse(res) /* then nothing, not even keepalives */ : sse(res, [delivered('t1')])) });
    const { agent: a, errors } = await startAgent(mesh, { streamIdleTimeoutMs: 300 });
    await until(() => a.completed === 1, 5000, 'the task to complete');
    const streams = mesh.server.on('GET /v1/agents/a1/stream');
    expect(streams).toHaveLength(2);
    expect(gap(streams, 1)).toBeGreaterThanOrEqual(290);
    expect((errors[0] as Error).name).toBe('TimeoutError');
  });

  it('gives up at once on a fatal answer (401), without reconnecting', async () => {
    mesh = await fakeMesh({ stream: (_n, _h, res) => problem(res, 401, 'unauthorized') });
    const { agent: a, errors } = await startAgent(mesh);
    await until(() => a.fatalError !== undefined, 5000, 'the agent to give up');
    await sleep(100);
    expect((a.fatalError as AgentMeshError).status).toBe(401);
    expect(mesh.server.on('GET /v1/agents/a1/stream')).toHaveLength(1);
    expect(errors).toEqual([a.fatalError]);
  });

  it('stops at once while waiting out a long Retry-After', async () => {
    mesh = await fakeMesh({ stream: (_n, _h, res) => problem(res, 503, 'unavailable', { 'retry-after': '20' }) });
    const { agent: a } = await startAgent(mesh);
    await until(() => mesh!.server.on('GET /v1/agents/a1/stream').length === 1, 5000, 'the first connection');
    await sleep(50);
    const started = performance.now();
    await a.stop({ graceMs: 100 });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(mesh.server.on('GET /v1/agents/a1/stream')).toHaveLength(1);
    expect(mesh.server.on('DELETE /v1/agents/a1')).toHaveLength(1);
  });
});

describe('Agent: long polling', () => {
  it('waits out a 503’s Retry-After before polling again, then works the task', async () => {
    mesh = await fakeMesh({
      next: async (n, _h, res) => {
        if (n === 1) return problem(res, 503, 'unavailable', { 'retry-after': '1' });
        if (n === 2) return json(res, 200, delivered('t1'));
        await sleep(50);
        res.writeHead(204).end();
      },
    });
    const { agent: a } = await startAgent(mesh, { transport: 'poll' });
    await until(() => a.completed === 1, 5000, 'the task to complete');
    const polls = mesh.server.on('GET /v1/agents/a1/tasks/next');
    expect(gap(polls, 1)).toBeGreaterThanOrEqual(990);
  });
});

describe('Agent: settlements', () => {
  it('sends a completion again when its answer was lost; the mesh applies it once, and a redelivery of the attempt is not run again', async () => {
    let applied = 0;
    mesh = await fakeMesh({
      stream: (n, _h, res) => sse(res, n === 1 ? [delivered('t1')] : []),
      complete: (n, _h, res) => {
        if (n === 1) {
          applied++;
          return drop(res);
        }
        json(res, 200, { id: 't1', status: 'completed' });
      },
    });
    const { agent: a, errors, runs } = await startAgent(mesh);
    await until(() => a.completed === 1, 5000, 'the completion');
    expect(applied).toBe(1);
    expect(mesh.server.on('POST /v1/tasks/t1/complete')).toHaveLength(2);
    expect(errors).toEqual([]);
    // At-least-once delivery: the same attempt comes again (a redelivery after a reconnect, say).
    mesh.streams.at(-1)!.write(`event: task\ndata: ${JSON.stringify(delivered('t1'))}\n\n`);
    await sleep(200);
    expect(runs()).toBe(1);
    expect(mesh.server.on('POST /v1/tasks/t1/complete')).toHaveLength(2);
    // A new attempt of it is new work.
    mesh.streams.at(-1)!.write(`event: task\ndata: ${JSON.stringify(delivered('t1', 2))}\n\n`);
    await until(() => runs() === 2, 5000, 'the second attempt');
  });

  it('retries a completion through a store outage (503s) until it lands', async () => {
    mesh = await fakeMesh({
      stream: (n, _h, res) => sse(res, n === 1 ? [delivered('t1')] : []),
      complete: (n, _h, res) => (n <= 3 ? problem(res, 503, 'unavailable', {}, { retryAfterSeconds: 0.05 }) : json(res, 200, { id: 't1', status: 'completed' })),
    });
    const { agent: a, errors } = await startAgent(mesh);
    await until(() => a.completed === 1, 5000, 'the completion');
    const completes = mesh.server.on('POST /v1/tasks/t1/complete');
    expect(completes).toHaveLength(4);
    for (let i = 1; i < completes.length; i++) expect(gap(completes, i)).toBeGreaterThanOrEqual(45);
    expect(errors).toEqual([]);
  });

  it('stops retrying a settlement when stop() gives up on it after its grace', async () => {
    mesh = await fakeMesh({
      stream: (n, _h, res) => sse(res, n === 1 ? [delivered('t1')] : []),
      complete: (_n, _h, res) => problem(res, 503, 'unavailable', { 'retry-after': '1' }),
    });
    const { agent: a } = await startAgent(mesh);
    await until(() => mesh!.server.on('POST /v1/tasks/t1/complete').length === 1, 5000, 'the first completion');
    const started = performance.now();
    await a.stop({ graceMs: 200 });
    expect(performance.now() - started).toBeLessThan(1500);
    const after = mesh.server.on('POST /v1/tasks/t1/complete').length;
    await sleep(1200);
    expect(mesh.server.on('POST /v1/tasks/t1/complete')).toHaveLength(after);
    expect(a.completed).toBe(0);
  });

  it('sends each heartbeat once: the next beat is its retry', async () => {
    mesh = await fakeMesh({ heartbeat: (_n, _h, res) => problem(res, 503, 'unavailable', { 'retry-after': '0' }) });
    const { errors } = await startAgent(mesh, { heartbeatIntervalMs: 100 });
    await sleep(450);
    const beats = mesh.server.on('POST /v1/agents/a1/heartbeat').length;
    expect(beats).toBeGreaterThanOrEqual(2);
    expect(beats).toBeLessThanOrEqual(5);
    expect(errors.length).toBe(beats);
  });
});
