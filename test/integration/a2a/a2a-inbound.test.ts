import { once } from 'node:events';
import { connect } from 'node:net';
import { TaskState, type Task as A2ATask } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { TaskNotCancelableError, TaskNotFoundError } from '@a2a-js/sdk/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/sdk/index.js';
import { createTenant, expectProblem, expectStatus } from '../../support/api-helpers.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';
import { a2aClient, collect, message } from './a2a-client.js';

const rpc = (method: string, params: unknown, id: number | string = 1) => ({ jsonrpc: '2.0', id, method, params });

describe('A2A: the mesh as an agent, driven by the official SDK client', () => {
  let h: Harness;
  let acme: { key: string };
  let globex: { key: string };
  let worker: Agent;
  let client: Client;

  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_A2A_MAX_STREAMS_PER_TENANT: '2' });
    acme = await createTenant(h, 'acme-a2a');
    globex = await createTenant(h, 'globex-a2a');
    worker = await new Agent({ url: h.url, apiKey: acme.key, id: 'echo-1', name: 'echo', capabilities: ['echo', 'shout'], heartbeatIntervalMs: 200 })
      .handle('echo', async (input: unknown) => {
        await new Promise((r) => setTimeout(r, 150));
        return { echoed: input };
      })
      .handle('shout', (input: { text: string }) => input.text.toUpperCase())
      .start();
    client = await a2aClient(h.url, acme.key);
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  it("serves the tenant's card: skills are its live agents' capabilities, the key as bearer, JSON-RPC at /v1/a2a", async () => {
    const card = await client.getAgentCard();
    expect(card.skills.map((s) => s.id)).toEqual(['echo', 'shout']);
    expect(card.supportedInterfaces[0]).toMatchObject({ url: `${h.url}/v1/a2a`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' });
    expect(card.capabilities?.streaming).toBe(true);
    expect(card.securitySchemes.bearer?.scheme).toMatchObject({ $case: 'httpAuthSecurityScheme', value: { scheme: 'Bearer' } });
    // Another tenant sees none of acme's skills.
    const other = await (await a2aClient(h.url, globex.key)).getAgentCard();
    expect(other.skills).toEqual([]);
  });

  it('serves a public card without a key (no skills), and refuses a bad key with 401', async () => {
    const res = await h.request('GET', '/.well-known/agent-card.json', { key: null });
    // No AGENTMESH_PUBLIC_URL: its endpoint comes from the request, so no shared cache may keep it.
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    const anonymous = expectStatus(res, 200);
    expect(anonymous.skills ?? []).toEqual([]);
    expect(anonymous.securitySchemes.bearer).toBeDefined();
    expectProblem(await h.request('GET', '/.well-known/agent-card.json', { key: 'am_nope.nope' }), 401, 'unauthorized');
    // A refused key is a failed authentication in the audit log, as on the /v1 routes.
    const failures = await eventually(async () => {
      const page = expectStatus(await h.request('GET', '/v1/audit?action=AUTH_FAILURE'), 200);
      const items = page.items.filter((e: any) => e.details.attempted === 'GET /.well-known/agent-card.json');
      return items.length > 0 ? items : undefined;
    });
    expect(failures[0]).toMatchObject({ status: 'denied', actor: { type: 'anonymous' }, details: { keyFingerprint: expect.any(String) } });
  });

  it('sends a message (blocking): a task routed to the live agent, completed, its output as an artifact', async () => {
    const task = (await client.sendMessage(message({ n: 42 }, { skill: 'echo' }))) as A2ATask;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(task.artifacts).toHaveLength(1);
    expect(task.artifacts[0]!.parts[0]!.content).toEqual({ $case: 'data', value: { echoed: { n: 42 } } });
    // The same task through the REST API: a mesh task like any other.
    const rest = expectStatus(await h.request('GET', `/v1/tasks/${task.id}`, { key: acme.key }), 200);
    expect(rest).toMatchObject({ status: 'completed', capability: 'echo', input: { n: 42 }, agentId: 'echo-1' });
    // And again with GetTask.
    const got = await client.getTask({ tenant: '', id: task.id, historyLength: undefined });
    expect(got.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(got.artifacts[0]!.parts[0]!.content).toEqual({ $case: 'data', value: { echoed: { n: 42 } } });
  });

  it('takes text parts as {text}, and a string output as a text artifact', async () => {
    const task = (await client.sendMessage(message('hello mesh', { skill: 'shout' }))) as A2ATask;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(task.artifacts[0]!.parts[0]!.content).toEqual({ $case: 'text', value: 'HELLO MESH' });
  });

  it('streams: the task, its status as it moves, the artifact, then completed', async () => {
    // No agent has 'late' yet: the task is submitted, and moves once one joins.
    const events = client.sendMessageStream(message({ n: 7 }, { skill: 'late' }));
    const first = await events.next();
    expect(first.value?.payload?.$case).toBe('task');
    expect(first.value?.payload?.$case === 'task' && first.value.payload.value.status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);
    const late = await new Agent({ url: h.url, apiKey: acme.key, id: 'late-1', name: 'late', capabilities: ['late'], heartbeatIntervalMs: 200 })
      .handle('late', async (input: { n: number }) => {
        await new Promise((r) => setTimeout(r, 700));
        return { doubled: input.n * 2 };
      })
      .start();
    try {
      const rest = await collect(events);
      const cases = rest.map((e) => e.payload?.$case);
      const states = rest.flatMap((e) => (e.payload?.$case === 'statusUpdate' ? [e.payload.value.status?.state] : []));
      expect(states).toContain(TaskState.TASK_STATE_WORKING);
      expect(states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(states.indexOf(TaskState.TASK_STATE_WORKING)).toBeLessThan(states.length - 1);
      // The artifact, then the final status, then the end of the stream.
      expect(cases.slice(-2)).toEqual(['artifactUpdate', 'statusUpdate']);
      const artifact = rest.at(-2)!;
      expect(artifact.payload?.$case === 'artifactUpdate' && artifact.payload.value.artifact?.parts[0]?.content).toEqual({ $case: 'data', value: { doubled: 14 } });
    } finally {
      await late.stop();
    }
  });

  it('cancels a task that has not ended; an ended one is not cancelable', async () => {
    // Nobody has this skill: the task waits in its queue.
    const waiting = (await client.sendMessage(message('later', { skill: 'nobody-has-it' }, { returnImmediately: true }))) as A2ATask;
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);
    const canceled = await client.cancelTask({ tenant: '', id: waiting.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    // Canceling it again is harmless (as on the REST route).
    expect((await client.cancelTask({ tenant: '', id: waiting.id, metadata: undefined })).status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const done = (await client.sendMessage(message({ n: 1 }, { skill: 'echo' }))) as A2ATask;
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    await expect(client.cancelTask({ tenant: '', id: done.id, metadata: undefined })).rejects.toBeInstanceOf(TaskNotCancelableError);
  });

  it("answers another tenant's task as not found, and audits the denied access", async () => {
    const task = (await client.sendMessage(message({ secret: true }, { skill: 'echo' }))) as A2ATask;
    const intruder = await a2aClient(h.url, globex.key);
    await expect(intruder.getTask({ tenant: '', id: task.id, historyLength: undefined })).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(intruder.cancelTask({ tenant: '', id: task.id, metadata: undefined })).rejects.toBeInstanceOf(TaskNotFoundError);
    // Still completed, untouched.
    expect((await client.getTask({ tenant: '', id: task.id, historyLength: undefined })).status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const denied = await eventually(async () => {
      const page = expectStatus(await h.request('GET', `/v1/audit?action=UNAUTHORIZED_ACCESS&resourceId=${task.id}`, { key: globex.key }), 200);
      return page.items.length >= 2 ? page.items : undefined;
    });
    expect(denied.map((e: any) => e.status)).toEqual(['denied', 'denied']);
    expect(denied.map((e: any) => e.details.attempted)).toEqual(['POST /v1/a2a', 'POST /v1/a2a']);
    expect(denied.find((e: any) => e.details.attemptedAction === 'TASK_CANCELLED')).toBeDefined();
    // Each names the A2A method refused, and why.
    expect(denied.map((e: any) => e.details.method).sort()).toEqual(['CancelTask', 'GetTask']);
    expect(denied.every((e: any) => e.details.reason === `task '${task.id}' was not found`)).toBe(true);
  });

  it('audits a message sent as a task submitted over A2A', async () => {
    const task = (await client.sendMessage(message({ audited: 1 }, { skill: 'echo' }))) as A2ATask;
    const entries = await eventually(async () => {
      const page = expectStatus(await h.request('GET', `/v1/audit?action=TASK_SUBMITTED&resourceId=${task.id}`, { key: acme.key }), 200);
      return page.items.length === 1 ? page.items : undefined;
    });
    expect(entries[0]).toMatchObject({ status: 'success', details: { via: 'a2a', capability: 'echo' } });
  });

  it('bounds open streams per tenant: past the bound 429 and nothing submitted; a closed stream frees its slot', async () => {
    const body = (id: string) => JSON.stringify(rpc('SendStreamingMessage', { message: { messageId: id, role: 'ROLE_USER', parts: [{ text: 'wait' }], metadata: { skill: 'bounded' } } }));
    const open = (id: string, signal?: AbortSignal) =>
      fetch(`${h.url}/v1/a2a`, { method: 'POST', headers: { authorization: `Bearer ${acme.key}`, 'content-type': 'application/json', accept: 'text/event-stream' }, body: body(id), ...(signal && { signal }) });
    const hangUp = new AbortController();
    const streams = await Promise.all([open('bounded-1', hangUp.signal), open('bounded-2', hangUp.signal)]);
    expect(streams.map((r) => r.headers.get('content-type'))).toEqual(['text/event-stream', 'text/event-stream']);
    const refused = await open('bounded-3');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ type: 'https://agentmesh.dev/problems/quota_exceeded', quota: 'maxA2AStreamsPerTenant', limit: 2 });
    // The refused message made no task.
    const queued = expectStatus(await h.request('GET', '/v1/tasks?capability=bounded', { key: acme.key }), 200);
    expect(queued.items).toHaveLength(2);
    // The other tenant is not held back by acme's streams.
    const other = await fetch(`${h.url}/v1/a2a`, { method: 'POST', headers: { authorization: `Bearer ${globex.key}`, 'content-type': 'application/json' }, body: body('globex-stream') });
    expect(other.headers.get('content-type')).toBe('text/event-stream');
    await other.body?.cancel();
    hangUp.abort();
    const metrics = await eventually(async () => {
      const text = (await h.request('GET', '/metrics')).body as string;
      return /agentmesh_a2a_streams_open\{tenant="acme-a2a"\} 0\b/u.test(text) ? text : undefined;
    }, 5000, 'the streams to close');
    expect(metrics).toMatch(/agentmesh_a2a_streams_refused_total\{tenant="acme-a2a"\} 1\b/u);
    expect(metrics).toMatch(/agentmesh_a2a_requests_total\{method="SendStreamingMessage",outcome="stream"\} [1-9]/u);
    const again = await open('bounded-4');
    expect(again.status).toBe(200);
    await again.body?.cancel();
  });

  it('frees the stream slot of a client that hangs up before its stream starts (nothing held, whatever the timing)', async () => {
    const port = Number(new URL(h.url).port);
    const body = (id: string) => JSON.stringify(rpc('message/stream', { message: { kind: 'message', messageId: id, role: 'user', parts: [{ kind: 'text', text: 'gone' }], metadata: { skill: 'shout' } } }));
    // More hang-ups than the bound (2), each a few milliseconds after its request was sent.
    for (let i = 0; i < 6; i++) {
      const payload = body(`hung-up-${i}`);
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`POST /v1/a2a HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${acme.key}\r\ncontent-type: application/json\r\naccept: text/event-stream\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
      await new Promise((r) => setTimeout(r, i));
      socket.destroy();
    }
    await eventually(async () => /agentmesh_a2a_streams_open\{tenant="acme-a2a"\} 0\b/u.test((await h.request('GET', '/metrics')).body as string), 5000, 'every slot to be free');
    const res = await fetch(`${h.url}/v1/a2a`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acme.key}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: body('after-hang-ups'),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    await res.body?.cancel();
  });

  describe('JSON-RPC errors', () => {
    const post = (body: unknown, key: string | null, headers: Record<string, string> = {}) =>
      h.request('POST', '/v1/a2a', { key, headers: { 'content-type': 'application/json', ...headers }, rawBody: typeof body === 'string' ? body : JSON.stringify(body) });

    it('parse error, invalid request, method not found, invalid params', async () => {
      expect(expectStatus(await post('{"jsonrpc": "2.0", "method": ', acme.key), 200).error.code).toBe(-32700);
      expect(expectStatus(await post([rpc('GetTask', { id: 'x' })], acme.key), 200).error.code).toBe(-32600);
      expect(expectStatus(await post({ jsonrpc: '1.0', id: 3, method: 'GetTask' }, acme.key), 200).error).toMatchObject({ code: -32600 });
      const unknown = expectStatus(await post(rpc('DoSomething', {}, 'abc'), acme.key), 200);
      expect(unknown).toMatchObject({ jsonrpc: '2.0', id: 'abc', error: { code: -32601 } });
      expect(expectStatus(await post(rpc('GetTask', 'not an object'), acme.key), 200).error.code).toBe(-32602);
      // An unknown method is -32601 with or without params; a known one without its params says so.
      expect(expectStatus(await post({ jsonrpc: '2.0', id: 7, method: 'Nope' }, acme.key), 200).error).toMatchObject({ code: -32601, message: expect.stringContaining("Method not found: 'Nope'") });
      expect(expectStatus(await post({ jsonrpc: '2.0', id: 8, method: 'GetTask' }, acme.key), 200).error).toMatchObject({ code: -32602, message: 'Invalid params: GetTask takes params, an object' });
      // A message without a skill, in a tenant of two skills: say which to name.
      const noSkill = expectStatus(await post(rpc('SendMessage', { message: { messageId: 'm-noskill', role: 'ROLE_USER', parts: [{ text: 'hi' }] } }), acme.key), 200);
      expect(noSkill.error.code).toBe(-32602);
      expect(noSkill.error.message).toContain('metadata.skill');
      // Parts the mesh does not take.
      const file = expectStatus(await post(rpc('SendMessage', { message: { messageId: 'm-file', role: 'ROLE_USER', parts: [{ url: 'https://example.com/a.pdf' }], metadata: { skill: 'echo' } } }), acme.key), 200);
      expect(file.error.code).toBe(-32005);
      // Push notifications and ListTasks are not offered.
      expect(expectStatus(await post(rpc('ListTasks', {}), acme.key), 200).error.code).toBe(-32004);
      // The 0.3 push-notification methods, whatever their params (a malformed one answered -32603).
      for (const method of ['tasks/pushNotificationConfig/set', 'tasks/pushNotificationConfig/get', 'tasks/pushNotificationConfig/list', 'tasks/pushNotificationConfig/delete']) {
        for (const params of [{}, { id: 'x', pushNotificationConfig: { url: 'https://example.com' } }]) {
          expect(expectStatus(await post(rpc(method, params), acme.key), 200).error.code, method).toBe(-32003);
        }
      }
      expect(expectStatus(await post(rpc('GetTask', { id: '01a2125c-49bf-7000-9050-17962ab70bbd' }), acme.key), 200).error.code).toBe(-32001);
      expect(expectStatus(await post(rpc('GetTask', { id: 'x' }), acme.key, { 'a2a-version': '9.9' }), 200).error.code).toBe(-32009);
    });

    it('accepts the A2A 0.3 method names (message/send, tasks/get) with 0.3 payloads', async () => {
      const sent = expectStatus(
        await post(rpc('message/send', { message: { kind: 'message', messageId: 'legacy-1', role: 'user', parts: [{ kind: 'text', text: 'old client' }], metadata: { skill: 'shout' } } }), acme.key),
        200,
      );
      expect(sent.result).toMatchObject({ kind: 'task', status: { state: 'completed' } });
      expect(sent.result.artifacts[0].parts[0]).toMatchObject({ kind: 'text', text: 'OLD CLIENT' });
      const got = expectStatus(await post(rpc('tasks/get', { id: sent.result.id }), acme.key), 200);
      expect(got.result).toMatchObject({ id: sent.result.id, status: { state: 'completed' } });
      const missing = expectStatus(await post(rpc('tasks/get', { id: 'nope' }), globex.key), 200);
      expect(missing.error.code).toBe(-32001);
    });

    it('streams over the A2A 0.3 name (message/stream) in 0.3 events', async () => {
      const res = await fetch(`${h.url}/v1/a2a`, {
        method: 'POST',
        headers: { authorization: `Bearer ${acme.key}`, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(rpc('message/stream', { message: { kind: 'message', messageId: 'legacy-stream-1', role: 'user', parts: [{ kind: 'text', text: 'streamed' }], metadata: { skill: 'shout' } } })),
      });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const events = (await res.text())
        .split('\n\n')
        .filter((frame) => frame.startsWith('data: '))
        .map((frame) => JSON.parse(frame.slice('data: '.length)).result);
      expect(events[0]).toMatchObject({ kind: 'task' });
      expect(events.find((e) => e.kind === 'artifact-update')?.artifact.parts[0]).toMatchObject({ kind: 'text', text: 'STREAMED' });
      expect(events.at(-1)).toMatchObject({ kind: 'status-update', status: { state: 'completed' } });
    });

    it('a repeated messageId is the same task, not a second one', async () => {
      const body = rpc('SendMessage', { message: { messageId: 'same-message', role: 'ROLE_USER', parts: [{ data: { once: true } }], metadata: { skill: 'echo' } }, configuration: { returnImmediately: true } });
      const first = expectStatus(await post(body, acme.key), 200).result.task.id;
      const second = expectStatus(await post(body, acme.key), 200).result.task.id;
      expect(second).toBe(first);
    });

    it('answers a missing or bad key with 401 problem+json, a role that may not submit with 403', async () => {
      expectProblem(await post(rpc('GetTask', { id: 'x' }), null), 401, 'unauthorized');
      expectProblem(await post(rpc('GetTask', { id: 'x' }), 'am_bad.key'), 401, 'unauthorized');
      const observer = expectStatus(await h.request('POST', '/v1/api-keys', { key: acme.key, body: { name: 'watcher', role: 'observer' } }), 201).key;
      expectProblem(await post(rpc('SendMessage', { message: { messageId: 'm-observer', role: 'ROLE_USER', parts: [{ text: 'x' }], metadata: { skill: 'echo' } } }), observer), 403, 'forbidden');
    });

    it('refuses a body of another media type with 415', async () => {
      expectProblem(await h.request('POST', '/v1/a2a', { key: acme.key, headers: { 'content-type': 'text/plain' }, rawBody: 'hi' }), 415, 'unsupported_media_type');
    });
  });
});
