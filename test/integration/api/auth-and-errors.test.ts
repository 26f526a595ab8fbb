import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus, registerAgent, submitTask, waitForTaskStatus } from '../../support/api-helpers.js';
import { ADMIN_KEY, startHarness, type Harness } from '../../support/mesh-harness.js';

/** The error contract of the API: 401, 400, 403, 404, 405, 409, 413, 415, 429, each as problem+json. */
describe('API errors', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_MAX_INPUT_BYTES: '2048' });
  }, 60_000);
  afterAll(async () => h?.close());

  describe('401 unauthorized', () => {
    it('answers 401 without an Authorization header', async () => {
      const res = await h.request('GET', '/v1/tasks', { key: null });
      const problem = expectProblem(res, 401, 'unauthorized');
      expect(problem.title).toBe('Unauthorized');
      expect(problem.detail).toMatch(/API key/);
    });

    it('answers 401 for a malformed Authorization header', async () => {
      for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', `Bearer ${ADMIN_KEY} extra`, ADMIN_KEY, `Token ${ADMIN_KEY}`]) {
        const res = await h.request('GET', '/v1/agents', { key: null, headers: { authorization } });
        const problem = expectProblem(res, 401, 'unauthorized');
        // Says what is wrong with the header that was sent, never that none was, and never echoes it.
        expect(problem.detail).toMatch(/^(Basic authentication is not accepted|the Authorization header holds no bearer key): send Authorization: Bearer <key>/);
        expect(JSON.stringify(problem)).not.toContain(ADMIN_KEY);
        expect(JSON.stringify(problem)).not.toContain('dXNlcjpwYXNz');
      }
    });

    it('accepts the bearer scheme case-insensitively', async () => {
      const res = await h.request('GET', '/v1/agents', { key: null, headers: { authorization: `bearer ${ADMIN_KEY}` } });
      expectStatus(res, 200);
    });

    it('answers 401 for an unknown key, on reads and on writes', async () => {
      expectProblem(await h.request('GET', '/v1/tasks', { key: 'am_not-a-real-key-000000000000' }), 401, 'unauthorized');
      const write = await h.request('POST', '/v1/tasks', { key: 'am_not-a-real-key-000000000000', body: { capability: 'echo' } });
      expectProblem(write, 401, 'unauthorized');
    });

    it('sends WWW-Authenticate: Bearer with a 401 (RFC 9110 section 15.5.2)', async () => {
      const res = await h.request('GET', '/v1/tasks', { key: null });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate') ?? '').toMatch(/^Bearer\b/i);
    });

    it('answers 401 for a key once it is revoked with DELETE /v1/api-keys/{id}', async () => {
      const { id, key } = await createApiKey(h, 'observer', undefined, 'soon revoked');
      expectStatus(await h.request('GET', '/v1/tasks', { key }), 200);

      const revoke = await h.request('DELETE', `/v1/api-keys/${id}`);
      expect(revoke.status).toBe(204);

      const after = await h.request('GET', '/v1/tasks', { key });
      expectProblem(after, 401, 'unauthorized');
      const listed = expectStatus(await h.request('GET', '/v1/api-keys'), 200);
      const record = listed.items.find((k: { id: string }) => k.id === id);
      expect(record.revokedAt).toBeTypeOf('number');
    });

    it('authenticates a /v1 route reached by a percent-encoded path as any other (401 audited, never a 500)', async () => {
      const attempts = async () => expectStatus(await h.request('GET', '/v1/audit?action=AUTH_FAILURE&limit=500'), 200).items.length;
      const before = await attempts();
      for (const path of ['/%761/tasks', '/v%31/agents/x/tasks/next', '/%76%31/tasks/some-id']) {
        expectProblem(await h.request('GET', path, { key: null }), 401, 'unauthorized');
      }
      expectProblem(await h.request('POST', '/%761/a2a', { key: 'am_not-a-real-key-000000000000', body: { jsonrpc: '2.0', id: 1, method: 'GetExtendedAgentCard' } }), 401, 'unauthorized');
      expect(await attempts()).toBe(before + 4);
      // With a key it is the route it decodes to.
      expect(expectStatus(await h.request('GET', '/%761/tasks'), 200).items).toBeInstanceOf(Array);
    });

    it("audits a refused key on the platform admin's metrics and detailed health, as on any route", async () => {
      const { key } = await createTenant(h, 'metrics-snooper');
      const denied = async () => expectStatus(await h.request('GET', '/v1/audit?action=UNAUTHORIZED_ACCESS&limit=500'), 200).items.filter((e: { details: { attempted?: string } }) => /^GET \/(metrics|health)$/u.test(e.details.attempted ?? ''));
      const failed = async () => expectStatus(await h.request('GET', '/v1/audit?action=AUTH_FAILURE&limit=500'), 200).items.filter((e: { details: { attempted?: string } }) => /^GET \/(metrics|health)$/u.test(e.details.attempted ?? ''));
      const [deniedBefore, failedBefore] = [(await denied()).length, (await failed()).length];
      expectProblem(await h.request('GET', '/metrics', { key }), 403, 'forbidden');
      expectProblem(await h.request('GET', '/health', { key }), 403, 'forbidden');
      expectProblem(await h.request('GET', '/metrics', { key: 'am_not-a-real-key-000000000000' }), 401, 'unauthorized');
      expectProblem(await h.request('GET', '/health', { key: 'am_not-a-real-key-000000000000' }), 401, 'unauthorized');
      expect((await denied()).length - deniedBefore).toBe(0); // the tenant's entries are in its own log
      expect((await failed()).length - failedBefore).toBe(2);
      const own = expectStatus(await h.request('GET', '/v1/audit?action=UNAUTHORIZED_ACCESS', { key }), 200).items.map((e: { resourceType: string; details: { attempted: string } }) => [e.resourceType, e.details.attempted]);
      expect(own).toEqual(expect.arrayContaining([['metrics', 'GET /metrics'], ['health', 'GET /health']]));
    });

    it('answers 404 when revoking an unknown key', async () => {
      expectProblem(await h.request('DELETE', '/v1/api-keys/no-such-key'), 404, 'not_found');
    });
  });

  describe('400 validation', () => {
    const submit = (body: unknown) => h.request('POST', '/v1/tasks', { body });

    it('names a missing required field', async () => {
      const problem = expectProblem(await submit({ input: { a: 1 } }), 400, 'validation');
      expect(problem.field).toBe('body.capability');
      expect(problem.detail).toBe('body.capability is required');
    });

    it('rejects an unknown field, naming it', async () => {
      const problem = expectProblem(await submit({ capability: 'echo', colour: 'blue' }), 400, 'validation');
      expect(problem.field).toBe('body.colour');
      expect(problem.detail).toContain('colour');
    });

    it('rejects priority 10 (0-9)', async () => {
      const problem = expectProblem(await submit({ capability: 'echo', priority: 10 }), 400, 'validation');
      expect(problem.field).toBe('body.priority');
      expectProblem(await submit({ capability: 'echo', priority: -1 }), 400, 'validation');
      expectProblem(await submit({ capability: 'echo', priority: 2.5 }), 400, 'validation');
    });

    it('rejects an unknown routing strategy', async () => {
      const problem = expectProblem(await submit({ capability: 'echo', routing: { strategy: 'random' } }), 400, 'validation');
      expect(problem.field).toBe('body.routing.strategy');
    });

    it('rejects the affinity strategy without an affinityKey, naming the field like schema violations', async () => {
      const problem = expectProblem(await submit({ capability: 'echo', routing: { strategy: 'affinity' } }), 400, 'validation');
      expect(problem.detail).toContain('affinityKey');
      // Schema violations name fields as body.<path>; a field checked by the domain must read the same.
      expect(problem.field).toBe('body.routing.affinityKey');
    });

    it('rejects a capability name outside the allowed characters', async () => {
      const problem = expectProblem(await submit({ capability: 'has spaces' }), 400, 'validation');
      expect(problem.field).toBe('body.capability');
    });

    it('rejects malformed JSON', async () => {
      const res = await h.request('POST', '/v1/tasks', { rawBody: '{"capability": "echo",', headers: { 'content-type': 'application/json' } });
      const problem = expectProblem(res, 400, 'malformed_request');
      expect(problem.title).toBe('Bad Request');
    });

    it('rejects a query parameter out of range', async () => {
      const problem = expectProblem(await h.request('GET', '/v1/tasks?limit=0'), 400, 'validation');
      expect(problem.field).toBe('querystring.limit');
      expectProblem(await h.request('GET', '/v1/tasks?status=sleeping'), 400, 'validation');
    });

    it('rejects an agent registration without capabilities', async () => {
      const problem = expectProblem(await h.request('POST', '/v1/agents', { body: { id: 'no-caps', name: 'x', capabilities: [] } }), 400, 'validation');
      expect(problem.field).toBe('body.capabilities');
    });

    it('takes the types of a JSON body as sent: a number, array or boolean is not made the string or integer the schema wants', async () => {
      const cases: Array<[unknown, string, string]> = [
        [{ capability: 5 }, 'body.capability', 'body.capability must be string'],
        [{ capability: ['strict-x'] }, 'body.capability', 'body.capability must be string'],
        [{ capability: true }, 'body.capability', 'body.capability must be string'],
        [{ capability: 'strict-x', priority: true }, 'body.priority', 'body.priority must be integer'],
        [{ capability: 'strict-x', priority: '7' }, 'body.priority', 'body.priority must be integer'],
        [{ capability: 'strict-x', priority: [7] }, 'body.priority', 'body.priority must be integer'],
        [{ capability: 'strict-x', priority: null }, 'body.priority', 'body.priority must be integer'],
        [{ capability: 'strict-x', maxAttempts: '3' }, 'body.maxAttempts', 'body.maxAttempts must be integer'],
        [{ capability: 'strict-x', routing: { strategy: ['round_robin'] } }, 'body.routing.strategy', 'body.routing.strategy must be string'],
        // A union says each form it takes.
        [{ capability: 'strict-x', deadline: 'yesterday' }, 'body.deadline', 'body.deadline must be integer, or match format "date-time"'],
        [{ capability: 'strict-x', deadline: true }, 'body.deadline', 'body.deadline must be integer, or be string'],
      ];
      for (const [body, field, detail] of cases) {
        const problem = expectProblem(await submit(body), 400, 'validation');
        expect({ body, field: problem.field, detail: problem.detail }).toEqual({ body, field, detail });
      }
      // Refused as they are (not wrapped in an array), and recorded in the audit log as refused registrations.
      for (const capabilities of [{ name: 'strict-x' }, 'strict-x', [null]]) {
        const agent = expectProblem(await h.request('POST', '/v1/agents', { body: { id: 'strict-agent', name: 'x', capabilities } }), 400, 'validation');
        expect(agent.field).toMatch(/^body\.capabilities/u);
      }
      const refused = expectStatus(await h.request('GET', '/v1/audit?action=AGENT_CREATED&resourceId=strict-agent'), 200).items;
      expect(refused.map((e: { status: string; details: { httpStatus: number } }) => [e.status, e.details.httpStatus])).toEqual([['failure', 400], ['failure', 400], ['failure', 400]]);
      const concurrency = expectProblem(await h.request('POST', '/v1/agents', { body: { id: 'strict-agent', name: 'x', capabilities: [{ name: 'strict-x' }], maxConcurrentTasks: '2' } }), 400, 'validation');
      expect(concurrency.detail).toBe('body.maxConcurrentTasks must be integer');
      // None of them made a task, under any spelling of the capability.
      for (const capability of ['5', 'strict-x', 'true']) expect(expectStatus(await h.request('GET', `/v1/tasks?capability=${capability}`), 200).items).toEqual([]);
      expectProblem(await h.request('GET', '/v1/agents/strict-agent'), 404, 'not_found');
    });

    it('still reads the querystring, path and headers, which are text on the wire, as the types their schemas give', async () => {
      const id = await submitTask(h, { capability: 'strict-query', priority: 7 }, { headers: { 'idempotency-key': 'strict-query-1' } });
      const page = expectStatus(await h.request('GET', '/v1/tasks?limit=10&capability=strict-query'), 200);
      expect(page.items.map((t: { id: string; priority: number }) => [t.id, t.priority])).toEqual([[id, 7]]);
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}?waitMs=100`), 200).id).toBe(id);
      expect(expectStatus(await h.request('GET', '/v1/agents?limit=1'), 200).items.length).toBeLessThanOrEqual(1);
      const again = await h.request('POST', '/v1/tasks', { body: { capability: 'strict-query', priority: 7 }, headers: { 'idempotency-key': 'strict-query-1' } });
      expect(expectStatus(again, 200)).toMatchObject({ id, created: false });
      const limit = expectProblem(await h.request('GET', '/v1/tasks?limit=ten'), 400, 'validation');
      expect(limit).toMatchObject({ field: 'querystring.limit', detail: 'querystring.limit must be integer' });
    });
  });

  it('415 for a body that is not JSON, text/plain included, JSON-looking or not', async () => {
    const form = await h.request('POST', '/v1/tasks', { rawBody: 'capability=echo', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(expectProblem(form, 415, 'unsupported_media_type').detail).toBe('send the body as application/json');
    const xml = await h.request('POST', '/v1/tasks', { rawBody: '<task capability="echo"/>', headers: { 'content-type': 'application/xml' } });
    expectProblem(xml, 415, 'unsupported_media_type');
    for (const contentType of ['text/plain', 'text/plain; charset=utf-8', 'TEXT/PLAIN']) {
      const text = await h.request('POST', '/v1/tasks', { rawBody: '{"capability":"text-plain"}', headers: { 'content-type': contentType } });
      expect(expectProblem(text, 415, 'unsupported_media_type').detail).toBe('send the body as application/json');
    }
    // What fetch sends a string body as when told no type.
    const bare = await fetch(`${h.url}/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` }, body: JSON.stringify({ id: 'text-agent', name: 'x', capabilities: [{ name: 'x' }] }) });
    expect(bare.status).toBe(415);
    expect(bare.headers.get('content-type')).toMatch(/^application\/problem\+json/u);
    expect(expectStatus(await h.request('GET', '/v1/tasks?capability=text-plain'), 200).items).toEqual([]);
    // JSON, with or without a charset, is still read.
    const json = await h.request('POST', '/v1/tasks', { rawBody: '{"capability":"text-plain"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expectStatus(json, 202);
  });

  describe('405 method not allowed', () => {
    it('answers a method a path has no route for with 405 and Allow, listing the methods it has', async () => {
      const cases: Array<[string, string, string]> = [
        ['PUT', '/v1/tasks', 'GET, HEAD, POST'],
        ['DELETE', '/v1/tasks', 'GET, HEAD, POST'],
        ['PATCH', '/v1/tasks/some-id', 'GET, HEAD'],
        ['GET', '/v1/tenant-keys/destroy', 'POST'],
        ['GET', '/v1/tasks/some-id/complete', 'POST'],
        ['POST', '/v1/agents/some-agent', 'DELETE, GET, HEAD'],
        ['POST', '/v1/secrets/some-secret', 'DELETE, GET, HEAD, PUT'],
        ['DELETE', '/v1/audit/retention', 'GET, HEAD, PUT'],
        ['GET', '/v1/a2a', 'POST'],
      ];
      for (const [method, path, allow] of cases) {
        const res = await h.request(method, `${path}?limit=5`);
        const problem = expectProblem(res, 405, 'method_not_allowed');
        expect({ method, path, allow: res.headers.get('allow') }).toEqual({ method, path, allow });
        expect(problem.title).toBe('Method Not Allowed');
        expect(problem.detail).toBe(`${method} is not allowed on ${path}; it allows ${allow}`);
        expect(problem.instance).toBe(`${path}?limit=5`);
      }
      // Outside /v1, without a key.
      const health = await h.request('POST', '/health/live', { key: null });
      expectProblem(health, 405, 'method_not_allowed');
      expect(health.headers.get('allow')).toBe('GET, HEAD');
    });

    it('still checks the key first under /v1, and leaves unknown paths a 404', async () => {
      expectProblem(await h.request('PUT', '/v1/tasks', { key: null }), 401, 'unauthorized');
      for (const [method, path] of [['PUT', '/v1/widgets'], ['POST', '/v1/tasks/some-id/explode'], ['DELETE', '/nowhere']] as const) {
        const res = await h.request(method, path, path.startsWith('/v1/') ? {} : { key: null });
        expectProblem(res, 404, 'route_not_found');
        expect(res.headers.get('allow')).toBeNull();
      }
    });
  });

  describe('403 forbidden', () => {
    it('an observer key may read but not submit tasks', async () => {
      const { key } = await createApiKey(h, 'observer');
      expectStatus(await h.request('GET', '/v1/tasks', { key }), 200);
      const problem = expectProblem(await h.request('POST', '/v1/tasks', { key, body: { capability: 'echo' } }), 403, 'forbidden');
      expect(problem.detail).toContain('observer');
      expectProblem(await h.request('POST', '/v1/agents', { key, body: { id: 'observer-agent', name: 'x', capabilities: [{ name: 'echo' }] } }), 403, 'forbidden');
    });

    it('an orchestrator key may submit but not create API keys', async () => {
      const { key } = await createApiKey(h, 'orchestrator');
      expect((await h.request('POST', '/v1/tasks', { key, body: { capability: 'orchestrated' } })).status).toBe(202);
      const problem = expectProblem(await h.request('POST', '/v1/api-keys', { key, body: { name: 'sneaky', role: 'admin' } }), 403, 'forbidden');
      expect(problem.detail).toContain('orchestrator');
      expectProblem(await h.request('GET', '/v1/api-keys', { key }), 403, 'forbidden');
    });

    it('an agent key may not submit tasks', async () => {
      const { key } = await createApiKey(h, 'agent', undefined, 'agent key', 'some-agent');
      expectProblem(await h.request('POST', '/v1/tasks', { key, body: { capability: 'echo' } }), 403, 'forbidden');
    });

    it("a tenant's own admin key (not the platform key) may not create tenants", async () => {
      const { key } = await createTenant(h, 'forbidden-tenant-admin');
      expectStatus(await h.request('GET', '/v1/tasks', { key }), 200);
      const problem = expectProblem(await h.request('POST', '/v1/tenants', { key, body: { id: 'grandchild' } }), 403, 'forbidden');
      expect(problem.detail).toMatch(/platform/);
    });
  });

  describe('404 not found', () => {
    it('unknown task', async () => {
      const problem = expectProblem(await h.request('GET', '/v1/tasks/0190ffff-0000-7000-8000-000000000000'), 404, 'not_found');
      expect(problem.detail).toContain('0190ffff-0000-7000-8000-000000000000');
      expectProblem(await h.request('POST', '/v1/tasks/no-such-task/cancel'), 404, 'not_found');
      expectProblem(await h.request('POST', '/v1/tasks/no-such-task/complete', { body: { agentId: 'some-agent' } }), 404, 'not_found');
    });

    it('unknown agent', async () => {
      expectProblem(await h.request('GET', '/v1/agents/no-such-agent'), 404, 'not_found');
      expectProblem(await h.request('POST', '/v1/agents/no-such-agent/heartbeat'), 404, 'not_found');
      expectProblem(await h.request('GET', '/v1/agents/no-such-agent/tasks/next'), 404, 'not_found');
      expectProblem(await h.request('DELETE', '/v1/agents/no-such-agent'), 404, 'not_found');
    });

    it('unknown route', async () => {
      const problem = expectProblem(await h.request('GET', '/v1/widgets'), 404, 'route_not_found');
      expect(problem.detail).toContain('/v1/widgets');
      expectProblem(await h.request('GET', '/nowhere', { key: null }), 404, 'route_not_found');
      expectProblem(await h.request('POST', '/v1/tasks/some-id/explode'), 404, 'route_not_found');
    });
  });

  describe('409 conflict', () => {
    it('completing, failing or extending a task with an agent that does not hold the lease', async () => {
      await registerAgent(h, 'lease-holder', ['lease-cap']);
      const id = await submitTask(h, { capability: 'lease-cap' });
      await waitForTaskStatus(h, id, 'assigned');

      const complete = expectProblem(await h.request('POST', `/v1/tasks/${id}/complete`, { body: { agentId: 'not-the-holder', output: 1 } }), 409, 'lease_not_held');
      expect(complete.detail).toContain('not-the-holder');
      expectProblem(await h.request('POST', `/v1/tasks/${id}/fail`, { body: { agentId: 'not-the-holder', error: 'nope' } }), 409, 'lease_not_held');
      expectProblem(await h.request('POST', `/v1/tasks/${id}/extend`, { body: { agentId: 'not-the-holder', leaseMs: 5000 } }), 409, 'lease_not_held');

      const task = expectStatus(await h.request('GET', `/v1/tasks/${id}`), 200);
      expect(task.status).toBe('assigned');
      expect(task.agentId).toBe('lease-holder');
    });

    it('registering an agent id twice', async () => {
      await registerAgent(h, 'twin-agent', ['twin']);
      const res = await h.request('POST', '/v1/agents', { body: { id: 'twin-agent', name: 'again', capabilities: [{ name: 'twin' }] } });
      const problem = expectProblem(res, 409, 'conflict');
      expect(problem.detail).toContain('twin-agent');
    });

    it('canceling a completed task', async () => {
      await registerAgent(h, 'finisher', ['finish-cap']);
      const id = await submitTask(h, { capability: 'finish-cap' });
      await waitForTaskStatus(h, id, 'assigned');
      expect(expectStatus(await h.request('POST', `/v1/tasks/${id}/complete`, { body: { agentId: 'finisher', output: { ok: true } } }), 200).status).toBe('completed');

      const problem = expectProblem(await h.request('POST', `/v1/tasks/${id}/cancel`), 409, 'conflict');
      expect(problem.detail).toContain('completed');
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`), 200).status).toBe('completed');
    });
  });

  describe('413 payload too large', () => {
    it('rejects task input over AGENTMESH_MAX_INPUT_BYTES', async () => {
      const res = await h.request('POST', '/v1/tasks', { body: { capability: 'big', input: { text: 'x'.repeat(4096) } } });
      const problem = expectProblem(res, 413, 'payload_too_large');
      expect(problem.title).toBe('Content Too Large');
      expect(problem.limitBytes).toBe(2048);
      // Nothing was stored.
      const listed = expectStatus(await h.request('GET', '/v1/tasks?capability=big'), 200);
      expect(listed.items).toHaveLength(0);
    });

    it('accepts input just under the limit', async () => {
      const res = await h.request('POST', '/v1/tasks', { body: { capability: 'big', input: 'y'.repeat(1800) } });
      expect(res.status).toBe(202);
    });

    it('rejects a request body over the body limit', async () => {
      const body = JSON.stringify({ capability: 'huge', input: 'z'.repeat(200 * 1024) });
      const res = await h.request('POST', '/v1/tasks', { rawBody: body, headers: { 'content-type': 'application/json' } });
      const problem = expectProblem(res, 413, 'payload_too_large');
      // The body limit is the input limit (2048 here) and 64 KiB for the rest of the request.
      expect(problem).toMatchObject({ limitBytes: 2048 + 64 * 1024, actualBytes: Buffer.byteLength(body) });
    });
  });

  describe('429 quotas', () => {
    it('maxTasksPerHour: the submit past the quota answers 429 with Retry-After', async () => {
      const { key } = await createTenant(h, 'quota-tasks', { maxTasksPerHour: 3 });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await submitTask(h, { capability: 'quota', input: i }, { key, headers: { 'idempotency-key': `q-${i}` } }));

      const res = await h.request('POST', '/v1/tasks', { key, body: { capability: 'quota', input: 3 } });
      const problem = expectProblem(res, 429, 'quota_exceeded');
      expect(problem.title).toBe('Too Many Requests');
      expect(problem.quota).toBe('maxTasksPerHour');
      expect(problem.limit).toBe(3);
      const retryAfter = res.headers.get('retry-after');
      expect(retryAfter).toMatch(/^\d+$/);
      expect(Number(retryAfter)).toBeGreaterThan(0);

      // A retry of an accepted submit (same idempotency key) is not a new task: it still answers.
      const again = await h.request('POST', '/v1/tasks', { key, body: { capability: 'quota', input: 0 }, headers: { 'idempotency-key': 'q-0' } });
      expect(expectStatus(again, 200).id).toBe(ids[0]);

      // The quota is the tenant's: the default tenant still submits.
      expect((await h.request('POST', '/v1/tasks', { body: { capability: 'quota' } })).status).toBe(202);
    });

    it('maxAgents: registering past the quota answers 429', async () => {
      const { key } = await createTenant(h, 'quota-agents', { maxAgents: 1 });
      await registerAgent(h, 'only-agent', ['solo'], { key });
      const res = await h.request('POST', '/v1/agents', { key, body: { id: 'second-agent', name: 'second', capabilities: [{ name: 'solo' }] } });
      const problem = expectProblem(res, 429, 'quota_exceeded');
      expect(problem.quota).toBe('maxAgents');
      expect(problem.limit).toBe(1);
      expectProblem(await h.request('GET', '/v1/agents/second-agent', { key }), 404, 'not_found');

      // A terminated agent no longer counts.
      expectStatus(await h.request('DELETE', '/v1/agents/only-agent', { key }), 200);
      await registerAgent(h, 'second-agent', ['solo'], { key });
    });
  });
});
