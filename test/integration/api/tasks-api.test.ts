import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, expectStatus, registerAgent, submitTask, waitForTaskStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

describe('tasks and agents API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(async () => h?.close());

  describe('POST /v1/tasks', () => {
    it('answers 202 with the id, status and a Location header', async () => {
      const res = await h.request('POST', '/v1/tasks', { body: { capability: 'submit-cap', input: { n: 1 }, priority: 7, maxAttempts: 2, leaseMs: 5000 } });
      const body = expectStatus(res, 202);
      expect(body).toEqual({ id: expect.any(String), status: 'queued', created: true });
      expect(res.headers.get('location')).toBe(`/v1/tasks/${body.id}`);

      const task = expectStatus(await h.request('GET', res.headers.get('location')!), 200);
      expect(task).toMatchObject({ id: body.id, tenantId: 'default', capability: 'submit-cap', input: { n: 1 }, priority: 7, maxAttempts: 2, leaseMs: 5000, status: 'queued', attempts: 0 });
      expect(task.routing).toEqual({ strategy: 'round_robin' });
    });

    it('Idempotency-Key: a repeat answers 200 with the same id and created:false', async () => {
      const headers = { 'idempotency-key': 'order-42' };
      const first = await h.request('POST', '/v1/tasks', { body: { capability: 'idem-cap', input: { order: 42 } }, headers });
      const created = expectStatus(first, 202);
      expect(created.created).toBe(true);

      const second = await h.request('POST', '/v1/tasks', { body: { capability: 'idem-cap', input: { order: 42 } }, headers });
      const repeated = expectStatus(second, 200);
      expect(repeated).toEqual({ id: created.id, status: 'queued', created: false });
      expect(second.headers.get('location')).toBe(`/v1/tasks/${created.id}`);

      const listed = expectStatus(await h.request('GET', '/v1/tasks?capability=idem-cap'), 200);
      expect(listed.items.map((t: { id: string }) => t.id)).toEqual([created.id]);
      expect(listed.items[0].idempotencyKey).toBe('order-42');

      // Another key is another task.
      const other = await h.request('POST', '/v1/tasks', { body: { capability: 'idem-cap', input: { order: 42 } }, headers: { 'idempotency-key': 'order-43' } });
      expect(expectStatus(other, 202).id).not.toBe(created.id);
    });

    it('Idempotency-Key: reusing a key for a different request is a 409, and the same input in another key order is not', async () => {
      const headers = { 'idempotency-key': 'order-77' };
      const first = expectStatus(await h.request('POST', '/v1/tasks', { body: { capability: 'idem-cap', input: { a: 1, b: 2 } }, headers }), 202);
      const reordered = await h.request('POST', '/v1/tasks', { body: { capability: 'idem-cap', input: { b: 2, a: 1 } }, headers });
      expect(expectStatus(reordered, 200).id).toBe(first.id);
      const different = await h.request('POST', '/v1/tasks', { body: { capability: 'idem-cap', input: { a: 2 } }, headers });
      expect(different.status).toBe(409);
      expect(different.headers.get('content-type')).toContain('application/problem+json');
      expect(different.body).toMatchObject({ type: 'https://agentmesh.dev/problems/conflict', idempotencyKey: 'order-77', taskId: first.id });
    });

    it('Idempotency-Key: concurrent submits with one key make one task', async () => {
      const headers = { 'idempotency-key': 'burst-1' };
      const answers = await Promise.all(Array.from({ length: 6 }, () => h.request('POST', '/v1/tasks', { body: { capability: 'burst-cap' }, headers })));
      const ids = new Set(answers.map((r) => r.body.id));
      expect(ids.size).toBe(1);
      expect(answers.filter((r) => r.status === 202 && r.body.created === true)).toHaveLength(1);
      expect(answers.filter((r) => r.status === 200 && r.body.created === false)).toHaveLength(5);
      expect(expectStatus(await h.request('GET', '/v1/tasks?capability=burst-cap'), 200).items).toHaveLength(1);
    });

    it('accepts a deadline as an RFC 3339 date-time', async () => {
      const deadline = new Date(Date.now() + 3_600_000);
      deadline.setMilliseconds(0);
      const id = await submitTask(h, { capability: 'deadline-cap', deadline: deadline.toISOString() });
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`), 200).deadline).toBe(deadline.getTime());

      const offset = '2099-06-01T12:00:00+02:00';
      const id2 = await submitTask(h, { capability: 'deadline-cap', deadline: offset });
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id2}`), 200).deadline).toBe(Date.parse(offset));

      const epoch = Date.now() + 600_000;
      const id3 = await submitTask(h, { capability: 'deadline-cap', deadline: epoch });
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id3}`), 200).deadline).toBe(epoch);
    });

    it('rejects a deadline in the past, or one that is not a date-time', async () => {
      for (const deadline of [new Date(Date.now() - 60_000).toISOString(), Date.now() - 1000]) {
        const problem = expectProblem(await h.request('POST', '/v1/tasks', { body: { capability: 'deadline-cap', deadline } }), 400, 'validation');
        expect(problem.detail).toContain('deadline');
        expect(problem.field).toMatch(/deadline$/);
      }
      expectProblem(await h.request('POST', '/v1/tasks', { body: { capability: 'deadline-cap', deadline: 'tomorrow' } }), 400, 'validation');
      expect(expectStatus(await h.request('GET', '/v1/tasks?capability=deadline-cap'), 200).items).toHaveLength(3);
    });
  });

  describe('GET /v1/tasks', () => {
    it('filters by status, capability and agentId', async () => {
      await registerAgent(h, 'filter-agent', ['filter-a'], { maxConcurrentTasks: 1 });
      const a1 = await submitTask(h, { capability: 'filter-a', input: 1 });
      await waitForTaskStatus(h, a1, 'assigned');
      const a2 = await submitTask(h, { capability: 'filter-a', input: 2 });
      const a3 = await submitTask(h, { capability: 'filter-a', input: 3 });
      const b1 = await submitTask(h, { capability: 'filter-b' });
      const b2 = await submitTask(h, { capability: 'filter-b' });
      expectStatus(await h.request('POST', `/v1/tasks/${b2}/cancel`), 200);

      const ids = async (query: string) => expectStatus(await h.request('GET', `/v1/tasks?${query}`), 200).items.map((t: { id: string }) => t.id);
      expect(await ids('capability=filter-b')).toEqual([b2, b1]);
      expect(await ids('capability=filter-a')).toEqual([a3, a2, a1]);
      expect(await ids('capability=filter-a&status=queued')).toEqual([a3, a2]);
      expect(await ids('capability=filter-a&status=assigned')).toEqual([a1]);
      expect(await ids('status=canceled&capability=filter-b')).toEqual([b2]);
      expect(await ids('agentId=filter-agent')).toEqual([a1]);
      expect(await ids('agentId=nobody')).toEqual([]);
      for (const t of expectStatus(await h.request('GET', '/v1/tasks?status=queued&limit=500'), 200).items) expect(t.status).toBe('queued');
    });

    it('paginates with a cursor: every task once, newest first', async () => {
      const submitted: string[] = [];
      for (let i = 0; i < 12; i++) submitted.push(await submitTask(h, { capability: 'page-cap', input: i }));
      const seen: string[] = [];
      const pages: number[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 10; guard++) {
        const query = `capability=page-cap&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = expectStatus(await h.request('GET', `/v1/tasks?${query}`), 200);
        pages.push(page.items.length);
        seen.push(...page.items.map((t: { id: string }) => t.id));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      expect(pages).toEqual([5, 5, 2]);
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual([...submitted].sort());
      expect(seen).toEqual([...submitted].reverse());
    });

    it('answers 400 for a cursor it did not give out, instead of a wrong page', async () => {
      for (const cursor of ['garbage', 'MDFh', 'not base64!', Buffer.from('a b').toString('base64url')]) {
        const problem = expectProblem(await h.request('GET', `/v1/tasks?cursor=${encodeURIComponent(cursor)}`), 400, 'validation');
        expect(problem.detail).toMatch(/cursor is not one this API gave out/);
        expect(problem.field).toBe('querystring.cursor');
      }
      expect(expectProblem(await h.request('GET', '/v1/agents?cursor=garbage'), 400, 'validation').field).toBe('querystring.cursor');
    });

    it('a page that ends exactly at the last task carries no cursor', async () => {
      for (let i = 0; i < 4; i++) await submitTask(h, { capability: 'exact-page' });
      const first = expectStatus(await h.request('GET', '/v1/tasks?capability=exact-page&limit=2'), 200);
      expect(first.items).toHaveLength(2);
      const second = expectStatus(await h.request('GET', `/v1/tasks?capability=exact-page&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`), 200);
      expect(second.items).toHaveLength(2);
      expect(second.nextCursor).toBeUndefined();
    });
  });

  describe('GET /v1/tasks/{id}?waitMs', () => {
    it('returns as soon as the task completes', async () => {
      await registerAgent(h, 'wait-agent', ['wait-cap']);
      const id = await submitTask(h, { capability: 'wait-cap' });
      await waitForTaskStatus(h, id, 'assigned');

      const started = Date.now();
      const waiting = h.request('GET', `/v1/tasks/${id}?waitMs=8000`);
      await new Promise((r) => setTimeout(r, 200));
      expectStatus(await h.request('POST', `/v1/tasks/${id}/complete`, { body: { agentId: 'wait-agent', output: { done: true } } }), 200);
      const res = await waiting;
      const elapsed = Date.now() - started;
      const task = expectStatus(res, 200);
      expect(task.status).toBe('completed');
      expect(task.output).toEqual({ done: true });
      expect(elapsed).toBeGreaterThanOrEqual(180);
      expect(elapsed).toBeLessThan(6000);
    });

    it('returns the unsettled task when the wait runs out', async () => {
      const id = await submitTask(h, { capability: 'never-served' });
      const started = Date.now();
      const task = expectStatus(await h.request('GET', `/v1/tasks/${id}?waitMs=300`), 200);
      const elapsed = Date.now() - started;
      expect(task.id).toBe(id);
      expect(task.status).toBe('queued');
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(4000);
    });

    it('returns a settled task at once', async () => {
      const id = await submitTask(h, { capability: 'never-served' });
      expectStatus(await h.request('POST', `/v1/tasks/${id}/cancel`), 200);
      const started = Date.now();
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}?waitMs=5000`), 200).status).toBe('canceled');
      expect(Date.now() - started).toBeLessThan(2500);
    });

    it('rejects waitMs over 60000', async () => {
      const id = await submitTask(h, { capability: 'never-served' });
      expect(expectProblem(await h.request('GET', `/v1/tasks/${id}?waitMs=60001`), 400, 'validation').field).toBe('querystring.waitMs');
    });
  });

  describe('cancel', () => {
    it('cancels a queued task; a repeat is harmless', async () => {
      const id = await submitTask(h, { capability: 'cancel-cap' });
      const canceled = expectStatus(await h.request('POST', `/v1/tasks/${id}/cancel`), 200);
      expect(canceled.id).toBe(id);
      expect(canceled.status).toBe('canceled');
      expect(canceled.finishedAt).toBeTypeOf('number');
      expect(expectStatus(await h.request('POST', `/v1/tasks/${id}/cancel`), 200).status).toBe('canceled');
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`), 200).status).toBe('canceled');
    });

    it('cancels an assigned task; the agent can no longer settle it', async () => {
      await registerAgent(h, 'cancel-agent', ['cancel-assigned']);
      const id = await submitTask(h, { capability: 'cancel-assigned' });
      await waitForTaskStatus(h, id, 'assigned');
      expect(expectStatus(await h.request('POST', `/v1/tasks/${id}/cancel`), 200).status).toBe('canceled');
      expectProblem(await h.request('POST', `/v1/tasks/${id}/complete`, { body: { agentId: 'cancel-agent', output: 1 } }), 409, 'lease_not_held');
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`), 200).status).toBe('canceled');
    });

    it('a canceled task is not delivered when an agent arrives', async () => {
      const id = await submitTask(h, { capability: 'cancel-late' });
      expectStatus(await h.request('POST', `/v1/tasks/${id}/cancel`), 200);
      await registerAgent(h, 'late-agent', ['cancel-late']);
      expect((await h.request('GET', '/v1/agents/late-agent/tasks/next?waitMs=300')).status).toBe(204);
    });
  });

  describe('dead letters', () => {
    it('a task out of attempts is dead-lettered, listed, and requeued with fresh attempts', async () => {
      await registerAgent(h, 'dl-agent', ['dl-cap']);
      const id = await submitTask(h, { capability: 'dl-cap', input: { doomed: true }, maxAttempts: 1 });
      await waitForTaskStatus(h, id, 'assigned');

      const failed = expectStatus(await h.request('POST', `/v1/tasks/${id}/fail`, { body: { agentId: 'dl-agent', error: { message: 'boom', code: 'E_BOOM' }, retryable: true } }), 200);
      expect(failed.status).toBe('dead_lettered');
      expect(failed.attempts).toBe(1);
      expect(failed.error).toMatchObject({ message: 'boom', code: 'E_BOOM' });

      const listed = expectStatus(await h.request('GET', '/v1/dead-letters'), 200);
      expect(listed.items.map((t: { id: string }) => t.id)).toContain(id);
      for (const t of listed.items) expect(t.status).toBe('dead_lettered');
      expect(expectStatus(await h.request('GET', '/v1/dead-letters?capability=dl-cap'), 200).items.map((t: { id: string }) => t.id)).toEqual([id]);
      expect(expectStatus(await h.request('GET', '/v1/dead-letters?capability=other'), 200).items).toEqual([]);

      // Requeue needs an agent-free moment to observe 'queued': pause the agent first.
      expectStatus(await h.request('POST', '/v1/agents/dl-agent/pause'), 200);
      const requeued = expectStatus(await h.request('POST', `/v1/dead-letters/${id}/requeue`), 200);
      expect(requeued.id).toBe(id);
      expect(requeued.status).toBe('queued');
      expect(requeued.attempts).toBe(0);
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`), 200)).toMatchObject({ status: 'queued', attempts: 0 });
      expect(expectStatus(await h.request('GET', '/v1/dead-letters?capability=dl-cap'), 200).items).toEqual([]);

      // Requeuing what is not dead-lettered is a conflict.
      expectProblem(await h.request('POST', `/v1/dead-letters/${id}/requeue`), 409, 'conflict');
      expectProblem(await h.request('POST', '/v1/dead-letters/no-such-task/requeue'), 404, 'not_found');

      // Back on the agent, it runs again.
      expectStatus(await h.request('POST', '/v1/agents/dl-agent/resume'), 200);
      const delivered = expectStatus(await h.request('GET', '/v1/agents/dl-agent/tasks/next?waitMs=5000'), 200);
      expect(delivered.id).toBe(id);
      expect(delivered.attempt).toBe(1);
    });

    it('a non-retryable failure is failed, not dead-lettered', async () => {
      await registerAgent(h, 'fatal-agent', ['fatal-cap']);
      const id = await submitTask(h, { capability: 'fatal-cap', maxAttempts: 3 });
      await waitForTaskStatus(h, id, 'assigned');
      const failed = expectStatus(await h.request('POST', `/v1/tasks/${id}/fail`, { body: { agentId: 'fatal-agent', error: 'bad input', retryable: false } }), 200);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatchObject({ message: 'bad input', retryable: false });
      expect(expectStatus(await h.request('GET', '/v1/dead-letters?capability=fatal-cap'), 200).items).toEqual([]);
    });
  });

  describe('GET /v1/agents', () => {
    it('filters by capability and status and paginates', async () => {
      const ids = ['list-agent-1', 'list-agent-2', 'list-agent-3', 'list-agent-4', 'list-agent-5'];
      for (const id of ids) await registerAgent(h, id, ['list-cap', id === 'list-agent-3' ? 'list-special' : 'list-plain']);
      expectStatus(await h.request('POST', '/v1/agents/list-agent-2/pause'), 200);

      const page = async (query: string) => expectStatus(await h.request('GET', `/v1/agents?${query}`), 200);
      expect((await page('capability=list-special')).items.map((a: { id: string }) => a.id)).toEqual(['list-agent-3']);
      expect((await page('capability=list-cap&status=paused')).items.map((a: { id: string }) => a.id)).toEqual(['list-agent-2']);
      expect((await page('capability=list-cap&status=available')).items.map((a: { id: string }) => a.id)).toEqual(['list-agent-1', 'list-agent-3', 'list-agent-4', 'list-agent-5']);
      for (const a of (await page('status=paused&limit=500')).items) expect(a.status).toBe('paused');

      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 10; guard++) {
        const p = await page(`capability=list-cap&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        sizes.push(p.items.length);
        seen.push(...p.items.map((a: { id: string }) => a.id));
        cursor = p.nextCursor;
        if (!cursor) break;
      }
      expect(sizes).toEqual([2, 2, 1]);
      expect(seen).toEqual(ids);
      expectProblem(await h.request('GET', '/v1/agents?status=sleepy'), 400, 'validation');
    });
  });

  describe('agent lifecycle', () => {
    it('pause, resume, heartbeat and DELETE answer with the agent', async () => {
      const registered = await registerAgent(h, 'life-agent', ['life-cap']);
      expect(registered.status).toBe('available');

      const paused = expectStatus(await h.request('POST', '/v1/agents/life-agent/pause'), 200);
      expect(paused.status).toBe('paused');
      expect(expectStatus(await h.request('POST', '/v1/agents/life-agent/pause'), 200).status).toBe('paused');

      // A paused agent gets no new tasks.
      const id = await submitTask(h, { capability: 'life-cap' });
      expect((await h.request('GET', '/v1/agents/life-agent/tasks/next?waitMs=300')).status).toBe(204);
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`), 200).status).toBe('queued');

      const resumed = expectStatus(await h.request('POST', '/v1/agents/life-agent/resume'), 200);
      expect(['available', 'busy']).toContain(resumed.status);
      expect(expectStatus(await h.request('GET', '/v1/agents/life-agent/tasks/next?waitMs=5000'), 200).id).toBe(id);
      expect(['available', 'busy']).toContain(expectStatus(await h.request('POST', '/v1/agents/life-agent/resume'), 200).status);

      const before = Date.now();
      const beat = expectStatus(await h.request('POST', '/v1/agents/life-agent/heartbeat'), 200);
      expect(beat.id).toBe('life-agent');
      expect(beat.lastHeartbeatAt).toBeGreaterThanOrEqual(before - 5);

      const terminated = expectStatus(await h.request('DELETE', '/v1/agents/life-agent'), 200);
      expect(terminated.status).toBe('terminated');
      // Its in-flight task went back to the queue.
      expect(expectStatus(await h.request('GET', `/v1/tasks/${id}`), 200).status).toBe('queued');

      expect(expectStatus(await h.request('DELETE', '/v1/agents/life-agent'), 200).status).toBe('terminated');
      expect(expectStatus(await h.request('GET', '/v1/agents/life-agent'), 200).status).toBe('terminated');
      expectProblem(await h.request('POST', '/v1/agents/life-agent/heartbeat'), 409, 'invalid_state');
      expectProblem(await h.request('POST', '/v1/agents/life-agent/pause'), 409, 'invalid_state');
      expectProblem(await h.request('POST', '/v1/agents/life-agent/resume'), 409, 'invalid_state');
    });
  });
});
