import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, expectStatus } from '../../support/api-helpers.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';

/** A key revoked while a request made with it is still open gets nothing more through it. */
describe('a key revoked while its request waits', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  /** A task of a capability of its own, taken and completed by an agent of the admin's. */
  async function completeWith(capability: string, id: string, output: unknown): Promise<void> {
    const agent = `${capability}-agent`;
    expectStatus(await h.request('POST', '/v1/agents', { body: { id: agent, name: agent, capabilities: [{ name: capability }] } }), 201);
    await h.admin.nextTask(agent, 5000);
    await h.admin.complete(id, agent, output);
  }

  const revoke = async (keyId: string) => expect((await h.request('DELETE', `/v1/api-keys/${keyId}`)).status).toBe(204);

  const refusalsOf = (keyId: string) =>
    eventually(async () => {
      const items = expectStatus(await h.request('GET', '/v1/audit?action=AUTH_FAILURE&limit=50'), 200).items as Array<{ details: { keyId?: string } }>;
      return items.length > 0 ? items : undefined;
    }).then((items) => items.filter((e) => JSON.stringify(e).includes(keyId)));

  it('a task wait answers 401, not the output, when its key was revoked meanwhile', async () => {
    const orchestrator = await createApiKey(h, 'orchestrator');
    const { id } = expectStatus(await h.request('POST', '/v1/tasks', { key: orchestrator.key, body: { capability: 'wait-revoked', input: {} } }), 202);
    const waiting = h.request('GET', `/v1/tasks/${id}?waitMs=20000`, { key: orchestrator.key });
    await new Promise((r) => setTimeout(r, 100));
    await revoke(orchestrator.id);
    await completeWith('wait-revoked', id, { secret: 'output-after-revocation' });
    const answer = await waiting;
    expect(answer.status).toBe(401);
    expect(JSON.stringify(answer.body)).not.toContain('output-after-revocation');
  });

  it('an A2A stream ends without the output when its key was revoked meanwhile', async () => {
    const orchestrator = await createApiKey(h, 'orchestrator');
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendStreamingMessage', params: { message: { messageId: 'revoked-stream', role: 'ROLE_USER', parts: [{ text: 'go' }], metadata: { skill: 'a2a-revoked' } } } });
    const res = await fetch(`${h.url}/v1/a2a`, { method: 'POST', headers: { authorization: `Bearer ${orchestrator.key}`, 'content-type': 'application/json', accept: 'text/event-stream' }, body });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const read = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
      }
    })();
    const taskId = await eventually(() => /"id":"([0-9a-f-]{36})"/u.exec(text)?.[1], 5000, 'the task in the stream');
    await revoke(orchestrator.id);
    await completeWith('a2a-revoked', taskId, { secret: 'artifact-after-revocation' });
    await Promise.race([read, new Promise((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), 10_000))]);
    expect(text).not.toContain('artifact-after-revocation');
    expect(await refusalsOf(orchestrator.id)).not.toHaveLength(0);
  });
});
