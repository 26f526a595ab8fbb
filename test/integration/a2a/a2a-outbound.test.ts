import { TaskState } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, expectProblem, expectStatus, waitForTaskStatus } from '../../support/api-helpers.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';
import { RemoteA2AServer } from './remote-a2a-server.js';

const HEARTBEAT_TIMEOUT_MS = 1500;

describe('A2A outbound: agents that are A2A servers elsewhere join routing like local ones', () => {
  let h: Harness;
  let key: string;
  const servers: RemoteA2AServer[] = [];

  const serve = async (behaviour: ConstructorParameters<typeof RemoteA2AServer>[0]) => {
    const server = new RemoteA2AServer(behaviour);
    await server.start();
    servers.push(server);
    return server;
  };
  const register = async (id: string, capability: string, a2aUrl: string, maxConcurrentTasks = 1) =>
    expectStatus(await h.request('POST', '/v1/agents', { key, body: { id, name: id, capabilities: [{ name: capability }], a2aUrl, maxConcurrentTasks } }), 201);
  const submit = async (capability: string, input: unknown, extra: Record<string, unknown> = {}) =>
    expectStatus(await h.request('POST', '/v1/tasks', { key, body: { capability, input, ...extra } }), 202).id as string;

  beforeAll(async () => {
    // The public URL only changes what the card says (checked below); nothing here reads the card.
    // The remote servers listen on this host, which the mesh calls only when allowed.
    h = await startHarness({ AGENTMESH_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS), AGENTMESH_RETRY_BASE_MS: '50', AGENTMESH_RETRY_CAP_MS: '100', AGENTMESH_PUBLIC_URL: 'https://mesh.example.com/base/', AGENTMESH_A2A_ALLOWED_HOSTS: '127.0.0.1' });
    key = (await createTenant(h, 'outbound')).key;
  }, 60_000);
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await h?.close();
  });

  it('names the endpoint under AGENTMESH_PUBLIC_URL in the card, for a mesh behind a proxy', async () => {
    const res = await h.request('GET', '/.well-known/agent-card.json', { key: null });
    // A fixed endpoint: shared caches may keep the public card.
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const card = expectStatus(res, 200);
    expect(card.supportedInterfaces.map((i: { url: string }) => i.url)).toEqual(['https://mesh.example.com/base/v1/a2a', 'https://mesh.example.com/base/v1/a2a']);
  });

  it('refuses an a2aUrl that is not an http(s) URL, carries credentials, or is too long', async () => {
    for (const a2aUrl of ['ftp://agents.example.com', 'not a url', 'http://user:secret@agents.example.com', `https://agents.example.com/${'x'.repeat(2100)}`]) {
      const problem = expectProblem(await h.request('POST', '/v1/agents', { key, body: { id: 'bad-url', name: 'bad', capabilities: [{ name: 'x' }], a2aUrl } }), 400, 'validation');
      expect(problem.field, a2aUrl.slice(0, 40)).toMatch(/a2aUrl/);
    }
  });

  it('delivers a task by calling the remote agent with the SDK client; its artifact is the output', async () => {
    const remote = await serve(async (input) => ({ state: TaskState.TASK_STATE_COMPLETED, output: { translated: String(input.text).toUpperCase() } }));
    const agent = await register('translator-1', 'translate', remote.url);
    expect(agent.a2aUrl).toBe(remote.url);
    const id = await submit('translate', { text: 'bonjour' });
    const task = await waitForTaskStatus(h, id, 'completed', key);
    expect(task).toMatchObject({ agentId: 'translator-1', attempts: 1, output: { translated: 'BONJOUR' } });
    expect(remote.received).toEqual([{ messageId: `${id}:1`, skill: 'translate', input: { text: 'bonjour' } }]);
    // The mesh heartbeats it while its card answers: still available well past the heartbeat timeout.
    await new Promise((r) => setTimeout(r, HEARTBEAT_TIMEOUT_MS * 2));
    expect(expectStatus(await h.request('GET', '/v1/agents/translator-1', { key }), 200).status).toBe('available');
  });

  it('retries a task the remote agent failed, and completes it on the next attempt', async () => {
    const remote = await serve(async (_input, { attemptsOfTask }) =>
      attemptsOfTask === 1 ? { state: TaskState.TASK_STATE_FAILED, text: 'model overloaded' } : { state: TaskState.TASK_STATE_COMPLETED, output: 'second time lucky' },
    );
    await register('flaky-remote', 'flaky', remote.url);
    const id = await submit('flaky', { n: 1 }, { maxAttempts: 3 });
    const task = await waitForTaskStatus(h, id, 'completed', key);
    expect(task).toMatchObject({ attempts: 2, output: 'second time lucky' });
  });

  it('dead-letters a task the remote agent keeps failing, after maxAttempts', async () => {
    const remote = await serve(async () => ({ state: TaskState.TASK_STATE_FAILED, text: 'always broken' }));
    await register('broken-remote', 'broken', remote.url);
    const id = await submit('broken', {}, { maxAttempts: 2 });
    const task = await waitForTaskStatus(h, id, 'dead_lettered', key);
    expect(task.attempts).toBe(2);
    expect(task.error).toMatchObject({ code: 'remote_failed', message: expect.stringContaining('always broken') });
    expect(remote.received).toHaveLength(2);
  });

  it('a rejection is final: failed with code rejected, not retried, and REJECTED over A2A', async () => {
    const remote = await serve(async () => ({ state: TaskState.TASK_STATE_REJECTED, text: 'not my kind of task' }));
    await register('picky-remote', 'picky', remote.url);
    const id = await submit('picky', {}, { maxAttempts: 3 });
    const task = await waitForTaskStatus(h, id, 'failed', key);
    expect(task).toMatchObject({ attempts: 1, error: { code: 'rejected' } });
    const got = expectStatus(
      await h.request('POST', '/v1/a2a', { key, headers: { 'content-type': 'application/json' }, rawBody: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id } }) }),
      200,
    );
    expect(got.result.status.state).toBe('TASK_STATE_REJECTED');
  });

  it('keeps within maxConcurrentTasks at the remote agent', async () => {
    const remote = await serve(async () => {
      await new Promise((r) => setTimeout(r, 200));
      return { state: TaskState.TASK_STATE_COMPLETED, output: 'ok' };
    });
    await register('bounded-remote', 'bounded', remote.url, 2);
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => submit('bounded', { i })));
    for (const id of ids) await waitForTaskStatus(h, id, 'completed', key);
    expect(remote.received).toHaveLength(6);
    expect(remote.maxRunning).toBe(2);
  });

  it('a remote agent whose card stops answering goes unhealthy; back, it recovers and takes the waiting task', async () => {
    const remote = await serve(async () => ({ state: TaskState.TASK_STATE_COMPLETED, output: 'back' }));
    await register('sometimes-remote', 'sometimes', remote.url);
    const port = remote.port;
    await remote.stop();
    await eventually(async () => expectStatus(await h.request('GET', '/v1/agents/sometimes-remote', { key }), 200).status === 'unhealthy', HEARTBEAT_TIMEOUT_MS * 4, 'the agent to go unhealthy');
    const id = await submit('sometimes', {});
    await new Promise((r) => setTimeout(r, 300));
    expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`, { key }), 200).status).toBe('queued');
    await remote.start(port);
    const task = await waitForTaskStatus(h, id, 'completed', key, HEARTBEAT_TIMEOUT_MS * 4);
    expect(task).toMatchObject({ output: 'back', attempts: 1 });
    const metrics = (await h.request('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/agentmesh_a2a_remote_calls_total\{tenant="outbound",outcome="completed"\} [1-9]/u);
    expect(metrics).toMatch(/agentmesh_a2a_remote_calls_total\{tenant="outbound",outcome="rejected"\} 1\b/u);
  });

  it('a task the remote agent cannot be reached for is retried, then dead-lettered', async () => {
    // Registered while the server is up, then it vanishes after the first call.
    const remote = await serve(async () => {
      await remote.stop();
      return { state: TaskState.TASK_STATE_COMPLETED, output: 'lost' };
    });
    await register('vanishing-remote', 'vanishing', remote.url);
    const id = await submit('vanishing', {}, { maxAttempts: 1 });
    const task = await waitForTaskStatus(h, id, 'dead_lettered', key, 15_000);
    expect(task.error).toMatchObject({ code: 'a2a_unreachable' });
  });

  it('never calls an address it is not allowed to (the cloud metadata service, a private network): the task fails, nothing is sent', async () => {
    await register('metadata-thief', 'steal', 'http://169.254.169.254/latest/meta-data/');
    const id = await submit('steal', {}, { maxAttempts: 3 });
    const task = await waitForTaskStatus(h, id, 'failed', key, 15_000);
    expect(task.attempts).toBe(1);
    expect(task.error).toMatchObject({ code: 'a2a_address_refused' });
    expect(task.error.message).toMatch(/'169\.254\.169\.254' is at 169\.254\.169\.254, not a public address: remote A2A agents there must be allowed with AGENTMESH_A2A_ALLOWED_HOSTS/);
  });
});
