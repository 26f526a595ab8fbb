import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, expectProblem, expectStatus, registerAgent, submitTask } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

/** `depth` arrays inside one another around 1, as JSON text (past a few thousand levels JSON.stringify itself overflows). */
const nestedText = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const nested = (depth: number): unknown => JSON.parse(nestedText(depth));

/** A raw JSON request whose body holds `deep` (JSON text) where the template says DEEP. */
const withDeep = (template: object, deep: string) => ({ rawBody: JSON.stringify(template).replace('"DEEP"', deep), headers: { 'content-type': 'application/json' } });

/** What the server answers a raw HTTP/1.1 request, as text (for requests no HTTP client would send). */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** Inputs at the edges of what the API documents, each answered as documented (found by an adversarial review). */
describe('API edge inputs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(async () => h?.close());

  describe('JSON nested deeper than 100 levels: a 400 naming the field, never a 500', () => {
    it('task input: 100 levels accepted, 101 and 5,000 refused', async () => {
      await submitTask(h, { capability: 'deep', input: nested(100) });
      for (const depth of [101, 5_000]) {
        const problem = expectProblem(await h.request('POST', '/v1/tasks', withDeep({ capability: 'deep', input: 'DEEP' }, nestedText(depth))), 400, 'validation');
        expect(problem.field).toBe('body.input');
        expect(problem.detail).toMatch(/nested more than 100 levels deep/u);
      }
      const objects = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000);
      expectProblem(await h.request('POST', '/v1/tasks', withDeep({ capability: 'deep', input: 'DEEP' }, objects)), 400, 'validation');
    });

    it('agent metadata, a batch item, and a completion output (the lease stays held, a good output then completes it)', async () => {
      const agent = expectProblem(
        await h.request('POST', '/v1/agents', { body: { id: 'deep-agent', name: 'deep', capabilities: [{ name: 'deepwork' }], metadata: { m: nested(200) } } }),
        400,
        'validation',
      );
      expect(agent.field).toBe('body.metadata');
      const batch = expectStatus(await h.request('POST', '/v1/tasks/batch', { body: { tasks: [{ capability: 'deepwork', input: nested(200) }, { capability: 'deepwork', input: 1 }] } }), 200);
      expect(batch.results.map((r: { status: number }) => r.status)).toEqual([400, 202]);

      await registerAgent(h, 'deep-worker', ['deepwork']);
      const taken = expectStatus(await h.request('GET', '/v1/agents/deep-worker/tasks/next?waitMs=5000'), 200);
      const refused = expectProblem(await h.request('POST', `/v1/tasks/${taken.id}/complete`, withDeep({ agentId: 'deep-worker', output: 'DEEP' }, nestedText(5_000))), 400, 'validation');
      expect(refused.field).toBe('body.output');
      expectStatus(await h.request('POST', `/v1/tasks/${taken.id}/complete`, { body: { agentId: 'deep-worker', output: { ok: true } } }), 200);
    });
  });

  describe('ids and names up to their documented lengths work in URLs', () => {
    it('an agent of 256 characters: read, heartbeat, pause, resume, its inbox, delete', async () => {
      const id = `a${'x'.repeat(255)}`;
      await registerAgent(h, id, ['long']);
      expectStatus(await h.request('GET', `/v1/agents/${id}`), 200);
      expectStatus(await h.request('POST', `/v1/agents/${id}/heartbeat`), 200);
      expectStatus(await h.request('POST', `/v1/agents/${id}/pause`), 200);
      expectStatus(await h.request('POST', `/v1/agents/${id}/resume`), 200);
      expect((await h.request('GET', `/v1/agents/${id}/tasks/next?waitMs=0`)).status).toBe(204);
      expect(expectStatus(await h.request('DELETE', `/v1/agents/${id}`), 200).status).toBe('terminated');
    });

    it('a tenant of 256 characters: read by id, and its audit log read, verified and reported on by the platform admin', async () => {
      const id = `t${'y'.repeat(255)}`;
      await createTenant(h, id);
      expect(expectStatus(await h.request('GET', `/v1/tenants/${id}`), 200).id).toBe(id);
      expectStatus(await h.request('GET', `/v1/audit?tenant=${id}`), 200);
      expectStatus(await h.request('GET', `/v1/audit/verify?tenant=${id}`), 200);
      const problem = expectProblem(await h.request('GET', `/v1/audit?tenant=${'z'.repeat(257)}`), 400, 'validation');
      expect(problem.field).toBe('querystring.tenant');
    });

    it('a secret of 128 characters: written, read, rotated, deleted', async () => {
      const name = 's'.repeat(128);
      expect([200, 201]).toContain((await h.request('PUT', `/v1/secrets/${name}`, { body: { value: 'v', policy: { capabilities: ['long'] } } })).status);
      expectStatus(await h.request('GET', `/v1/secrets/${name}`), 200);
      expectStatus(await h.request('POST', `/v1/secrets/${name}/rotate`, { body: { value: 'w' } }), 200);
      expect((await h.request('DELETE', `/v1/secrets/${name}`)).status).toBe(204);
    });

    it('a path segment past 512 characters: 414 as problem+json', async () => {
      const problem = expectProblem(await h.request('GET', `/v1/agents/${'a'.repeat(513)}`), 414, 'uri_too_long');
      expect(problem.title).toBe('URI Too Long');
      expect(problem.detail).toMatch(/512 characters/u);
    });
  });

  it('a number in a query written other than in decimal is refused, naming the parameter', async () => {
    for (const limit of ['0x10', '+5', '%20']) {
      const problem = expectProblem(await h.request('GET', `/v1/tasks?limit=${limit}`), 400, 'validation');
      expect(problem.detail).toBe('querystring.limit must be integer');
    }
    expectStatus(await h.request('GET', '/v1/tasks?limit=1e1'), 200);
  });

  it('a query parameter the operation does not take is refused, never ignored: ?tenant= on a route without it changes nothing', async () => {
    const retention = expectProblem(await h.request('PUT', '/v1/audit/retention?tenant=someone-else', { body: { days: 30 } }), 400, 'validation');
    expect(retention).toMatchObject({ field: 'querystring.tenant', detail: 'querystring.tenant is not a known field' });
    expect(expectStatus(await h.request('GET', '/v1/audit/retention'), 200)).toMatchObject({ days: null });
    expect(expectProblem(await h.request('GET', '/v1/tasks?tenant=someone-else'), 400, 'validation').field).toBe('querystring.tenant');
    expect(expectProblem(await h.request('POST', '/v1/tasks?priority=9', { body: { capability: 'c', input: {} } }), 400, 'validation').field).toBe('querystring.priority');
    expectStatus(await h.request('GET', '/v1/tasks?limit=5&status=queued'), 200);
    // Probes and scrapers may add their own.
    expectStatus(await h.request('GET', '/health/ready?probe=lb-1', { key: null }), 200);
  });

  it('a deadline past the last date a clock can hold is refused, naming it', async () => {
    for (const deadline of [1e20, 1e300]) {
      const problem = expectProblem(await h.request('POST', '/v1/tasks', { body: { capability: 'late', deadline } }), 400, 'validation');
      expect(problem.field).toBe('body.deadline');
    }
  });

  it('a body in a content coding the API does not decode: 415; identity, or no body, goes through', async () => {
    const body = JSON.stringify({ capability: 'coded' });
    const gzip = await h.request('POST', '/v1/tasks', { rawBody: body, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    expect(expectProblem(gzip, 415, 'unsupported_media_type').detail).toMatch(/Content-Encoding 'gzip'/u);
    expectStatus(await h.request('POST', '/v1/tasks', { rawBody: body, headers: { 'content-type': 'application/json', 'content-encoding': 'identity' } }), 202);
    expectStatus(await h.request('GET', '/v1/tasks?limit=1', { headers: { 'content-encoding': 'gzip' } }), 200);
  });

  it('requests the HTTP parser refuses get problem+json too, and the connection closes', async () => {
    const malformed = await raw(h.url, 'GET /v1/tasks HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/u);
    expect(malformed).toMatch(/content-type: application\/problem\+json/iu);
    expect(malformed).toMatch(/x-content-type-options: nosniff/iu);
    expect(JSON.parse(malformed.split('\r\n\r\n')[1]!)).toMatchObject({ type: 'https://agentmesh.dev/problems/malformed_request', status: 400 });
    const oversized = await raw(h.url, `GET /v1/tasks HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(oversized).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/u);
    expect(JSON.parse(oversized.split('\r\n\r\n')[1]!)).toMatchObject({ status: 431 });
  });

  it('a body that is not UTF-8, or declared in another charset, is refused rather than stored with U+FFFD', async () => {
    const post = (body: Uint8Array | string, contentType: string) =>
      fetch(`${h.url}/v1/tasks`, { method: 'POST', headers: { authorization: `Bearer ${h.adminKey}`, 'content-type': contentType }, body });
    const bytes = Buffer.concat([Buffer.from('{"capability":"x","input":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const invalid = await post(bytes, 'application/json');
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { detail: string }).detail).toMatch(/not valid UTF-8/u);
    const latin1 = await post('{"capability":"x"}', 'application/json; charset=latin1');
    expect(latin1.status).toBe(415);
    expect(((await latin1.json()) as { detail: string }).detail).toMatch(/charset=latin1/u);
    expect((await post('{"capability":"x"}', 'application/json; charset=UTF-8')).status).toBe(202);
    const notJson = await post('{"capability":', 'application/json');
    expect(((await notJson.json()) as { type: string; detail: string }).detail).toMatch(/^the body is not valid JSON: /u);
  });

  it('a body with a __proto__ key is refused, saying why', async () => {
    const res = await h.request('POST', '/v1/tasks', { rawBody: '{"capability":"p","input":{"__proto__":{"x":1}}}', headers: { 'content-type': 'application/json' } });
    expect(expectProblem(res, 400, 'malformed_request').detail).toMatch(/__proto__/u);
  });
});
