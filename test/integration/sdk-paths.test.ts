import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentMeshClient, AgentMeshError, pathSegment } from '../../src/sdk/index.js';
import { startHarness, type Harness } from '../support/mesh-harness.js';

/** A GET sent with its path exactly as given (node:http does not resolve dot segments, as fetch does). */
function rawGet(url: string, path: string, key: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = httpRequest({ hostname, port, path, headers: { authorization: `Bearer ${key}` } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function refusal(call: Promise<unknown>): Promise<AgentMeshError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgentMeshError);
  return error as AgentMeshError;
}

/** Ids made of dots, which URL parsers resolve as "this" and "the parent", do not take a request to another path. */
describe('SDK: ids in URL paths', () => {
  let h: Harness;
  let sent: string[];
  let client: AgentMeshClient;
  beforeAll(async () => {
    h = await startHarness();
    const counting: typeof fetch = (input, init) => {
      sent.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    };
    client = new AgentMeshClient({ url: h.url, apiKey: h.adminKey, fetch: counting, batching: false });
  }, 60_000);
  afterAll(async () => h?.close());

  it("client.get('..') fails with the mesh's 404 for task '..', not a 'no route' for /v1/, and sends nothing", async () => {
    // What the mesh answers when '..' does reach it (a client that sends the path as it is).
    const server = await rawGet(h.url, '/v1/tasks/%2E%2E', h.adminKey);
    expect(server.status).toBe(404);
    expect(server.body).toMatchObject({ type: 'https://agentmesh.dev/problems/not_found', detail: "task '..' was not found", kind: 'task', id: '..' });

    sent = [];
    const error = await refusal(client.get('..'));
    expect(error.status).toBe(404);
    expect(error.type).toBe(server.body.type);
    expect(error.message).toBe(`404 ${String(server.body.detail)}`);
    expect(error.problem).toMatchObject({ title: 'Not Found', status: 404, detail: server.body.detail, kind: 'task', id: '..', instance: '/v1/tasks/..' });
    expect(error.retryable).toBe(false);
    expect(sent).toEqual([]);
  });

  it('refuses every call whose path would hold . or .., naming what the mesh would, without a request', async () => {
    sent = [];
    const cases: Array<[Promise<unknown>, string]> = [
      [client.get('.'), "task '.' was not found"],
      [client.cancel('..'), "task '..' was not found"],
      [client.complete('..', 'some-agent', 1), "task '..' was not found"],
      [client.extendLease('.', 'some-agent', 1000), "task '.' was not found"],
      [client.requeue('..'), "task '..' was not found"],
      [client.getAgent('..'), "agent '..' was not found"],
      // Would have been GET /v1/tasks/next, the task 'next'.
      [client.nextTask('..', 0), "agent '..' was not found"],
      [client.terminateAgent('.'), "agent '.' was not found"],
      // Would have been GET /v1/secrets/x: another resource.
      [client.taskSecret('..', 'x'), "task '..' was not found"],
      [client.taskSecret('some-task', '..'), "secret '..' was not found"],
      [client.deleteSecret('.'), "secret '.' was not found"],
      // Paths given whole to client.http: any spelling a URL parser resolves.
      [client.http.json('GET', '/v1/tasks/..'), "task '..' was not found"],
      [client.http.json('GET', '/v1/tasks/%2e.'), "task '..' was not found"],
      [client.http.json('POST', '/v1/api-keys/.%2E/rotate'), "api key '..' was not found"],
    ];
    for (const [call, detail] of cases) {
      const error = await refusal(call);
      expect([error.status, error.type, error.problem.detail]).toEqual([404, 'https://agentmesh.dev/problems/not_found', detail]);
    }
    expect(sent).toEqual([]);
  });

  it('sends ids that hold dots but are not . or .., to the mesh as they are', async () => {
    sent = [];
    for (const id of ['...', 'a..b', '.x', '..x', 'x..']) {
      const error = await refusal(client.get(id));
      expect(error.problem).toMatchObject({ detail: `task '${id}' was not found`, id });
      expect(error.problem).not.toHaveProperty('notSent');
    }
    expect(sent).toEqual(['GET /v1/tasks/...', 'GET /v1/tasks/a..b', 'GET /v1/tasks/.x', 'GET /v1/tasks/..x', 'GET /v1/tasks/x..']);
    expect(['...', 'a/b', 'a?b#c', 'é'].map(pathSegment)).toEqual(['...', 'a%2Fb', 'a%3Fb%23c', '%C3%A9']);
  });
});
