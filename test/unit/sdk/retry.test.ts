import { afterEach, describe, expect, it } from 'vitest';
import { AgentMeshClient, AgentMeshError, type RetryEvent, type RetryOptions } from '../../../src/sdk/index.js';
import { parseRetryAfter } from '../../../src/sdk/errors.js';
import { isNetworkError, retrySettings, shouldRetry, wasNotSent } from '../../../src/sdk/retry.js';
import { closedPort, drop, fakeServer, json, problem, sleep, type FakeServer, type Hit } from './fake-server.js';

/** Small delays: the tests are about which requests are retried and how often, not about real waits. */
const FAST: RetryOptions = { initialDelayMs: 5, maxDelayMs: 20 };

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const TASK = { id: 't1', status: 'completed' };
const AGENT = { id: 'a1', status: 'available' };

function clientOf(s: FakeServer, options: { retry?: RetryOptions | false; timeoutMs?: number; idempotencyKeys?: boolean; batching?: boolean } = {}) {
  const events: RetryEvent[] = [];
  const retry = options.retry === false ? false : { ...FAST, ...options.retry, onRetry: (e: RetryEvent) => events.push(e) };
  const client = new AgentMeshClient({ url: s.url, apiKey: 'k', batching: false, ...options, retry });
  return { client, events };
}

/** Answers with `first` for the first `times` hits of a route, then with `then`. */
function sequence(times: number, first: (hit: Hit, res: import('node:http').ServerResponse) => void, then: (hit: Hit, res: import('node:http').ServerResponse) => void) {
  let n = 0;
  return (hit: Hit, res: import('node:http').ServerResponse) => (n++ < times ? first(hit, res) : then(hit, res));
}

const gap = (hits: Hit[], i: number) => hits[i]!.at - hits[i - 1]!.at;

describe('SDK retries: Retry-After', () => {
  it('waits at least a 503’s Retry-After in seconds before trying a GET again', async () => {
    server = await fakeServer(sequence(1, (_h, res) => problem(res, 503, 'unavailable', { 'retry-after': '1' }), (_h, res) => json(res, 200, AGENT)));
    const { client, events } = clientOf(server);
    await expect(client.getAgent('a1')).resolves.toEqual(AGENT);
    expect(server.hits).toHaveLength(2);
    expect(gap(server.hits, 1)).toBeGreaterThanOrEqual(990);
    expect(events[0]!.delayMs).toBeGreaterThanOrEqual(1000);
  });

  it('waits until a Retry-After given as an HTTP date', async () => {
    let expectedMs = 0;
    server = await fakeServer(
      sequence(
        1,
        (_h, res) => {
          const date = new Date(Date.now() + 2000).toUTCString(); // whole seconds: between 1 and 2 s from now
          expectedMs = Date.parse(date) - Date.now();
          problem(res, 503, 'unavailable', { 'retry-after': date });
        },
        (_h, res) => json(res, 200, AGENT),
      ),
    );
    const { client } = clientOf(server);
    await client.getAgent('a1');
    expect(expectedMs).toBeGreaterThan(900);
    expect(gap(server.hits, 1)).toBeGreaterThanOrEqual(expectedMs - 20);
  });

  it('uses a problem’s retryAfterSeconds when there is no header (batch items have none)', async () => {
    server = await fakeServer(sequence(1, (_h, res) => problem(res, 429, 'quota_exceeded', {}, { retryAfterSeconds: 0.3 }), (_h, res) => json(res, 200, AGENT)));
    const { client } = clientOf(server);
    await client.getAgent('a1');
    expect(gap(server.hits, 1)).toBeGreaterThanOrEqual(290);
  });

  it('does not wait out a Retry-After beyond maxRetryAfterMs: the error comes at once, with retryAfterMs', async () => {
    server = await fakeServer((_h, res) => problem(res, 429, 'quota_exceeded', { 'retry-after': '60' }));
    const { client } = clientOf(server);
    const started = performance.now();
    const error = (await client.getAgent('a1').catch((e: unknown) => e)) as AgentMeshError;
    expect(error).toBeInstanceOf(AgentMeshError);
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(60_000);
    expect(server.hits).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('parses Retry-After: delay-seconds, HTTP dates, and nothing else', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('SDK retries: what is retried', () => {
  it('retries 500 only where the request is idempotent (a GET, a completion), not a registration', async () => {
    const fail500 = () => sequence(1, (_h, res) => problem(res, 500, 'internal'), (h, res) => json(res, 200, h.path.includes('complete') ? TASK : AGENT));
    server = await fakeServer(fail500());
    let { client } = clientOf(server);
    await expect(client.getAgent('a1')).resolves.toEqual(AGENT);
    expect(server.hits).toHaveLength(2);
    await server.close();

    server = await fakeServer(fail500());
    ({ client } = clientOf(server));
    await expect(client.complete('t1', 'a1', { ok: 1 })).resolves.toEqual(TASK);
    expect(server.hits).toHaveLength(2);
    await server.close();

    server = await fakeServer(fail500());
    ({ client } = clientOf(server));
    await expect(client.registerAgent({ name: 'n', capabilities: [{ name: 'c' }] })).rejects.toMatchObject({ status: 500 });
    expect(server.hits).toHaveLength(1);
  });

  it('retries 502, 503 and 504 on idempotent requests; a non-idempotent one only on 503 and 429, which the mesh answers before doing anything', async () => {
    for (const status of [502, 503, 504, 429]) {
      server = await fakeServer(sequence(1, (_h, res) => problem(res, status, 'x'), (_h, res) => json(res, 200, AGENT)));
      const { client } = clientOf(server);
      await expect(client.listAgents()).resolves.toEqual(AGENT);
      expect(server.hits, `GET after ${status}`).toHaveLength(2);
      await server.close();

      server = await fakeServer(sequence(1, (_h, res) => problem(res, status, 'x'), (_h, res) => json(res, 201, AGENT)));
      const { client: c2 } = clientOf(server);
      const outcome = await c2.registerAgent({ name: 'n', capabilities: [{ name: 'c' }] }).then(
        () => 'ok',
        (e: AgentMeshError) => e.status,
      );
      expect(outcome, `register after ${status}`).toBe(status === 503 || status === 429 ? 'ok' : status);
      expect(server.hits).toHaveLength(status === 503 || status === 429 ? 2 : 1);
      await server.close();
    }
    server = undefined;
  });

  it('does not retry a non-idempotent request on the audit log’s 503 ("it may have taken effect"), but does an idempotent one', async () => {
    const audit503 = () => sequence(1, (_h, res) => problem(res, 503, 'audit_unavailable', { 'retry-after': '0' }), (h, res) => json(res, 200, h.method === 'GET' ? AGENT : TASK));
    server = await fakeServer(audit503());
    let { client } = clientOf(server);
    await expect(client.requeue('t1')).rejects.toMatchObject({ status: 503, type: 'https://agentmesh.dev/problems/audit_unavailable' });
    expect(server.hits).toHaveLength(1);
    await server.close();

    server = await fakeServer(audit503());
    ({ client } = clientOf(server));
    await expect(client.complete('t1', 'a1', 1)).resolves.toEqual(TASK);
    expect(server.hits).toHaveLength(2);
  });

  it('never retries 400, 401, 403, 404, 409 (other than an already-done repeat, which the mesh answers 200), 410, 413', async () => {
    for (const status of [400, 401, 403, 404, 409, 410, 413]) {
      server = await fakeServer((_h, res) => problem(res, status, 'x'));
      const { client, events } = clientOf(server);
      await expect(client.getAgent('a1')).rejects.toMatchObject({ status });
      await expect(client.complete('t1', 'a1', 1)).rejects.toMatchObject({ status });
      await expect(client.submit('c', 1, { idempotencyKey: 'k' })).rejects.toMatchObject({ status });
      expect(server.hits.map((h) => h.method), `status ${status}`).toEqual(['GET', 'POST', 'POST']);
      expect(events).toEqual([]);
      await server.close();
    }
    server = undefined;
  });

  it('stops after maxAttempts tries (settlements: settleMaxAttempts), throwing the last error', async () => {
    server = await fakeServer((_h, res) => problem(res, 503, 'unavailable'));
    const { client, events } = clientOf(server, { retry: { maxAttempts: 4, settleMaxAttempts: 6 } });
    await expect(client.getAgent('a1')).rejects.toMatchObject({ status: 503 });
    expect(server.hits).toHaveLength(4);
    expect(events.map((e) => e.attempt)).toEqual([1, 2, 3]);
    await expect(client.settle({ taskId: 't1', agentId: 'a1', outcome: 'completed', output: 1 })).rejects.toMatchObject({ status: 503 });
    expect(server.hits).toHaveLength(4 + 6);
  });

  it('backs off exponentially with full jitter: each wait is random between 0 and min(maxDelayMs, initialDelayMs × 2^(n−1))', async () => {
    server = await fakeServer((_h, res) => problem(res, 503, 'unavailable'));
    const { client, events } = clientOf(server, { retry: { maxAttempts: 9, initialDelayMs: 8, maxDelayMs: 64 } });
    const delays: number[][] = [];
    for (let run = 0; run < 5; run++) {
      events.length = 0;
      await client.getAgent('a1').catch(() => undefined);
      delays.push(events.map((e) => e.delayMs));
    }
    for (const run of delays) {
      expect(run).toHaveLength(8);
      run.forEach((d, i) => {
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(64, 8 * 2 ** i));
      });
    }
    // Jitter: the runs do not wait alike.
    expect(new Set(delays.map((r) => r.join(','))).size).toBeGreaterThan(1);
  });

  it('honours retry: false and a per-request retry: false', async () => {
    server = await fakeServer((_h, res) => problem(res, 503, 'unavailable'));
    const { client } = clientOf(server, { retry: false });
    await expect(client.getAgent('a1')).rejects.toMatchObject({ status: 503 });
    expect(server.hits).toHaveLength(1);
    const { client: c2 } = clientOf(server);
    await expect(c2.http.json('GET', '/v1/agents', { retry: false })).rejects.toMatchObject({ status: 503 });
    expect(server.hits).toHaveLength(2);
  });

  it('refuses nonsense retry options at construction', () => {
    expect(() => retrySettings({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => retrySettings({ initialDelayMs: 100, maxDelayMs: 10 })).toThrow(/maxDelayMs/);
    expect(() => new AgentMeshClient({ url: 'http://127.0.0.1:1', apiKey: 'k', timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(retrySettings(undefined)).toMatchObject({ maxAttempts: 5, settleMaxAttempts: 10, initialDelayMs: 100, maxDelayMs: 5000, maxRetryAfterMs: 30_000 });
    expect(retrySettings(false)).toBeUndefined();
  });
});

describe('SDK retries: network failures', () => {
  it('retries a GET whose connection was cut, but not a registration (it may have been applied)', async () => {
    server = await fakeServer(sequence(1, (_h, res) => drop(res), (_h, res) => json(res, 200, AGENT)));
    const { client } = clientOf(server);
    await expect(client.getAgent('a1')).resolves.toEqual(AGENT);
    expect(server.hits).toHaveLength(2);
    await server.close();

    server = await fakeServer(sequence(1, (_h, res) => drop(res), (_h, res) => json(res, 201, AGENT)));
    const { client: c2 } = clientOf(server);
    const error = await c2.registerAgent({ name: 'n', capabilities: [{ name: 'c' }] }).catch((e: unknown) => e);
    expect(isNetworkError(error)).toBe(true);
    expect(server.hits).toHaveLength(1);
  });

  it('retries even a non-idempotent request when the connection was refused (it never reached the server), up to maxAttempts', async () => {
    const port = await closedPort();
    const events: RetryEvent[] = [];
    const client = new AgentMeshClient({ url: `http://127.0.0.1:${port}`, apiKey: 'k', retry: { ...FAST, maxAttempts: 3, onRetry: (e) => events.push(e) } });
    const error = await client.registerAgent({ name: 'n', capabilities: [{ name: 'c' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(wasNotSent(error)).toBe(true);
    expect(events.map((e) => e.attempt)).toEqual([1, 2]);
    expect(events[0]!.operation).toBe('POST /v1/agents');
  });

  it('times a try out after timeoutMs: an idempotent request is retried, a non-idempotent one is not', async () => {
    server = await fakeServer(sequence(1, () => undefined /* never answers */, (h, res) => json(res, h.method === 'GET' ? 200 : 201, AGENT)));
    const { client } = clientOf(server, { timeoutMs: 150 });
    await expect(client.getAgent('a1')).resolves.toEqual(AGENT);
    expect(server.hits).toHaveLength(2);
    await server.close();

    server = await fakeServer(() => undefined);
    const { client: c2 } = clientOf(server, { timeoutMs: 150 });
    const error = (await c2.registerAgent({ name: 'n', capabilities: [{ name: 'c' }] }).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('TimeoutError');
    expect(error.message).toMatch(/POST \/v1\/agents got no answer within 150 ms/);
    expect(server.hits).toHaveLength(1);
  });

  it('gives a long poll its wait on top of the timeout', async () => {
    server = await fakeServer(async (_h, res) => {
      await sleep(300);
      res.writeHead(204).end();
    });
    const { client } = clientOf(server, { timeoutMs: 150 });
    await expect(client.nextTask('a1', 300)).resolves.toBeUndefined();
    expect(server.hits).toHaveLength(1);
  });

  it('stops waiting between tries as soon as the caller aborts', async () => {
    server = await fakeServer((_h, res) => problem(res, 503, 'unavailable', { 'retry-after': '20' }));
    const { client } = clientOf(server);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const started = performance.now();
    const error = (await client.get('t1', { signal: abort.signal }).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('AbortError');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(server.hits).toHaveLength(1);
  });

  it('tells network errors apart from bugs and answers', () => {
    const reset = new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    const refused = new TypeError('fetch failed', { cause: Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {}) });
    const cut = new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    const bug = new TypeError('Converting circular structure to JSON');
    const badArg = Object.assign(new TypeError('The "url" argument must be of type string'), { code: 'ERR_INVALID_ARG_TYPE' });
    expect([reset, refused, cut].map(isNetworkError)).toEqual([true, true, true]);
    expect([bug, badArg, new AgentMeshError(503, 'x', 'y')].map(isNetworkError)).toEqual([false, false, false]);
    expect([reset, refused, cut].map(wasNotSent)).toEqual([false, true, false]);
    const settings = { maxRetryAfterMs: 1000 };
    expect(shouldRetry(reset, 'idempotent', settings)).toBe(true);
    expect(shouldRetry(reset, 'unsafe', settings)).toBe(false);
    expect(shouldRetry(refused, 'unsafe', settings)).toBe(true);
    expect(shouldRetry(bug, 'idempotent', settings)).toBe(false);
    expect(shouldRetry(new DOMException('stop', 'AbortError'), 'idempotent', settings)).toBe(false);
    expect(shouldRetry(new AgentMeshError(501, 'x', 'not implemented'), 'idempotent', settings)).toBe(false);
  });
});

describe('SDK retries: submits and settlements', () => {
  it('a completion the mesh applied but whose answer was lost is sent again and ends as one success', async () => {
    let applied = 0;
    let status = 'running';
    server = await fakeServer((hit, res) => {
      const output = JSON.stringify(hit.body.output);
      if (status === 'running') {
        status = `completed:${output}`;
        applied++;
        return drop(res); // applied, then the connection is cut before the answer
      }
      // The mesh's rule: the same agent completing again with the same output gets the task back.
      if (status === `completed:${output}`) return json(res, 200, TASK);
      return problem(res, 409, 'conflict');
    });
    const { client, events } = clientOf(server);
    await expect(client.settle({ taskId: 't1', agentId: 'a1', outcome: 'completed', output: { v: 1 } })).resolves.toEqual({ id: 't1', status: 'completed' });
    expect(applied).toBe(1);
    expect(server.on('POST /v1/tasks/t1/complete')).toHaveLength(2);
    expect(events).toHaveLength(1);
  });

  it('does not send a retryable failure again after a lost answer (a repeat could fail the next attempt), but does after a 503', async () => {
    server = await fakeServer((_h, res) => drop(res));
    const { client } = clientOf(server);
    const lost = await client.settle({ taskId: 't1', agentId: 'a1', outcome: 'failed', error: { message: 'x' }, retryable: true }).catch((e: unknown) => e);
    expect(isNetworkError(lost)).toBe(true);
    expect(server.hits).toHaveLength(1);
    // A non-retryable failure is idempotent on the mesh: sent again.
    await client.settle({ taskId: 't1', agentId: 'a1', outcome: 'failed', error: { message: 'x' }, retryable: false }).catch(() => undefined);
    expect(server.hits).toHaveLength(1 + 10);
    await server.close();

    server = await fakeServer(sequence(2, (_h, res) => problem(res, 503, 'unavailable', { 'retry-after': '0' }), (_h, res) => json(res, 200, { id: 't1', status: 'queued' })));
    const { client: c2 } = clientOf(server);
    await expect(c2.fail('t1', 'a1', { message: 'x' }, true)).resolves.toMatchObject({ status: 'queued' });
    expect(server.hits).toHaveLength(3);
  });

  it('retries each item of a batch on its own: only the items whose answer was a retryable problem go again', async () => {
    server = await fakeServer((hit, res) => {
      if (hit.path === '/v1/tasks/settle') {
        return json(res, 200, {
          results: hit.body.outcomes.map((o: { taskId: string }) =>
            o.taskId === 't2' ? { status: 500, body: { type: 'https://agentmesh.dev/problems/internal', detail: 'boom' } } : { status: 200, body: { id: o.taskId, status: 'completed' } },
          ),
        });
      }
      return json(res, 200, { id: hit.path.split('/')[3], status: 'completed' });
    });
    const { client } = clientOf(server, { batching: true });
    const results = await Promise.all(['t1', 't2', 't3'].map((taskId) => client.settle({ taskId, agentId: 'a1', outcome: 'completed', output: 1 })));
    expect(results.map((r) => r.id)).toEqual(['t1', 't2', 't3']);
    expect(server.hits.map((h) => h.path)).toEqual(['/v1/tasks/settle', '/v1/tasks/t2/complete']);
  });

  it('with idempotencyKeys, a submit whose answer was lost is sent again with the same key, and reported created', async () => {
    server = await fakeServer(sequence(1, (_h, res) => drop(res), (_h, res) => json(res, 200, { id: 't1', status: 'queued', created: false })));
    const { client } = clientOf(server, { idempotencyKeys: true });
    await expect(client.submit('c', { x: 1 })).resolves.toEqual({ id: 't1', status: 'queued', created: true });
    const keys = server.hits.map((h) => h.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
  });

  it('with your own key, a repeat is reported as the mesh says (created false); without a key, a lost answer is not retried but a 503 is', async () => {
    server = await fakeServer(sequence(1, (_h, res) => drop(res), (_h, res) => json(res, 200, { id: 't1', status: 'queued', created: false })));
    const { client } = clientOf(server);
    await expect(client.submit('c', 1, { idempotencyKey: 'mine' })).resolves.toMatchObject({ created: false });
    expect(server.hits.map((h) => h.headers['idempotency-key'])).toEqual(['mine', 'mine']);
    await server.close();

    server = await fakeServer((_h, res) => drop(res));
    const { client: c1 } = clientOf(server);
    await expect(c1.submit('c', 1)).rejects.toBeInstanceOf(TypeError);
    expect(server.hits).toHaveLength(1);
    await server.close();

    server = await fakeServer(sequence(1, (_h, res) => problem(res, 503, 'unavailable', { 'retry-after': '0' }), (_h, res) => json(res, 202, { id: 't2', status: 'queued', created: true })));
    const { client: c2 } = clientOf(server);
    await expect(c2.submit('c', 1)).resolves.toMatchObject({ id: 't2', created: true });
    expect(server.hits).toHaveLength(2);
    expect(server.hits[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it('retries a batched submit’s 429 item after its retryAfterSeconds, and the others not at all', async () => {
    let batches = 0;
    server = await fakeServer((hit, res) => {
      if (hit.path === '/v1/tasks/batch') {
        batches++;
        return json(res, 200, {
          results: hit.body.tasks.map((t: { input: number }, i: number) =>
            t.input === 2 ? { status: 429, body: { type: 'https://agentmesh.dev/problems/quota_exceeded', detail: 'full', retryAfterSeconds: 0.2 } } : { status: 202, body: { id: `t${i}`, status: 'queued', created: true } },
          ),
        });
      }
      return json(res, 202, { id: 'late', status: 'queued', created: true });
    });
    const { client } = clientOf(server, { batching: true });
    const results = await Promise.all([1, 2, 3].map((n) => client.submit('c', n)));
    expect(results.map((r) => r.id)).toEqual(['t0', 'late', 't2']);
    expect(batches).toBe(1);
    const single = server.on('POST /v1/tasks');
    expect(single).toHaveLength(1);
    expect(single[0]!.at - server.hits[0]!.at).toBeGreaterThanOrEqual(190);
  });
});
