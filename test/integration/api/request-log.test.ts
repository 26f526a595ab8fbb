import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { configureLogger, REDACTED } from '../../../src/infrastructure/observability/logger.js';
import { startMesh, type RunningMesh } from '../../../src/presentation/compose.js';
import { captureLines } from '../../support/log-capture.js';
import { ADMIN_KEY } from '../../support/mesh-harness.js';

/** What the log says of requests: one line each, the key never, configured fields hidden. */
describe('request logging', () => {
  const out = captureLines();
  let running: RunningMesh;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(running.url + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    const config = loadConfig({
      AGENTMESH_DATA_DIR: ':memory:',
      AGENTMESH_PORT: '0',
      AGENTMESH_ADMIN_KEY: ADMIN_KEY,
      AGENTMESH_LOG_BODY_SAMPLE_RATE: '1',
      AGENTMESH_LOG_REDACT: 'body.input.ssn',
    });
    const logger = configureLogger({ serviceName: 'agentmesh', logLevel: 'info', format: 'json', redactPaths: config.logRedactPaths, destination: out.stream });
    running = await startMesh(config, { listen: true, logger });
  });
  afterAll(async () => running.close());

  it('writes one line per request with route, status, duration, sizes, key id, tenant and trace id, and never the key', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const submitted = await call('POST', '/v1/tasks', { capability: 'logged', input: { ssn: '123-45-6789', note: 'kept' } }, { traceparent });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    expect((await call('GET', `/v1/tasks/${id}`)).status).toBe(200);
    expect((await call('GET', '/v1/tasks/not-a-task-id')).status).toBe(404);
    await new Promise((r) => setTimeout(r, 50));

    const requests = out.lines.filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(3);
    expect(out.lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toEqual([]);
    const [submit, read, bad] = requests;
    expect(submit).toMatchObject({ level: 30, method: 'POST', route: '/v1/tasks', path: '/v1/tasks', status: 202, key_id: expect.any(String), tenant_id: 'default', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' });
    expect(submit!.duration_ms).toBeTypeOf('number');
    expect(submit!.req_bytes).toBeGreaterThan(0);
    expect(submit!.res_bytes).toBeGreaterThan(0);
    expect(submit!.body).toEqual({ capability: 'logged', input: { ssn: REDACTED, note: 'kept' } });
    expect(read).toMatchObject({ route: '/v1/tasks/:id', path: `/v1/tasks/${id}`, status: 200 });
    expect(bad).toMatchObject({ level: 40, status: 404 });
    expect(out.text()).not.toContain(ADMIN_KEY);
    expect(out.text()).not.toContain('123-45-6789');
  });

  describe('per-route sampling', () => {
    const sampledOut = captureLines();
    let sampled: RunningMesh;
    const start = (env: Record<string, string>) => {
      const config = loadConfig({ AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_PORT: '0', AGENTMESH_ADMIN_KEY: ADMIN_KEY, ...env });
      return startMesh(config, { listen: true, logger: configureLogger({ serviceName: 'agentmesh', logLevel: 'info', format: 'json', redactPaths: [], destination: sampledOut.stream }) });
    };
    afterAll(async () => sampled?.close());

    it("logs the given share of a route's successful requests, every one of its errors, and all of the other routes", async () => {
      sampled = await start({ AGENTMESH_LOG_SAMPLE_ROUTES: 'GET /v1/tasks/:id=0, GET /v1/agents=1' });
      const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
      const submitted = await fetch(`${sampled.url}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify({ capability: 'sampled' }) });
      const { id } = (await submitted.json()) as { id: string };
      for (let i = 0; i < 5; i++) expect((await fetch(`${sampled.url}/v1/tasks/${id}`, { headers })).status).toBe(200);
      expect((await fetch(`${sampled.url}/v1/tasks/no-such-task`, { headers })).status).toBe(404);
      expect((await fetch(`${sampled.url}/v1/agents`, { headers })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      const lines = sampledOut.lines.filter((l) => l.msg === 'request').map((l) => `${String(l.method)} ${String(l.route)} ${String(l.status)}`);
      expect(lines).toEqual(['POST /v1/tasks 202', 'GET /v1/tasks/:id 404', 'GET /v1/agents 200']);
    });

    it('refuses a route the API does not have, and a malformed entry, naming the variable', async () => {
      await expect(start({ AGENTMESH_LOG_SAMPLE_ROUTES: 'GET /v1/taskz/:id=0.5' })).rejects.toThrow(/^AGENTMESH_LOG_SAMPLE_ROUTES: the API has no route 'GET \/v1\/taskz\/:id'/);
      expect(() => loadConfig({ AGENTMESH_LOG_SAMPLE_ROUTES: 'GET /v1/tasks=2' })).toThrow(/^AGENTMESH_LOG_SAMPLE_ROUTES \(GET \/v1\/tasks\) must be a number from 0 to 1, got '2'/);
      expect(() => loadConfig({ AGENTMESH_LOG_SAMPLE_ROUTES: 'FETCH /v1/tasks=0.5' })).toThrow(/^AGENTMESH_LOG_SAMPLE_ROUTES must be comma-separated 'METHOD \/route=share'/);
      expect(loadConfig({ AGENTMESH_LOG_SAMPLE_ROUTES: ' GET /v1/tasks/:id = 0.01 ,POST /v1/tasks=1' }).logRouteSampleRates).toEqual(
        new Map([
          ['GET /v1/tasks/:id', 0.01],
          ['POST /v1/tasks', 1],
        ]),
      );
    });
  });
});
