import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus, PROBLEM_BASE, registerAgent, submitTask } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

/** POST /v1/tasks/batch and /v1/tasks/settle: each item answers what its single request would have. */
describe('task batches API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_MAX_INPUT_BYTES: '2048' });
  }, 60_000);
  afterAll(async () => h?.close());

  const listIds = async (capability: string) => expectStatus(await h.request('GET', `/v1/tasks?capability=${capability}`), 200).items.map((t: { id: string }) => t.id);

  describe('POST /v1/tasks/batch', () => {
    it('submits each item, answering per item; one bad item does not stop the others', async () => {
      const res = await h.request('POST', '/v1/tasks/batch', {
        body: { tasks: [{ capability: 'batch-a', input: { n: 1 } }, { capability: 'batch-a', input: 'x'.repeat(4000) }, { capability: 'batch-a', input: { n: 3 }, priority: 9 }] },
      });
      const { results } = expectStatus(res, 200);
      expect(results.map((r: { status: number }) => r.status)).toEqual([202, 413, 202]);
      expect(results[0].body).toEqual({ id: expect.any(String), status: 'queued', created: true });
      expect(results[1].body).toMatchObject({ type: `${PROBLEM_BASE}payload_too_large`, status: 413, detail: expect.stringContaining('input') });
      expect((await listIds('batch-a')).sort()).toEqual([results[0].body.id, results[2].body.id].sort());
      const third = expectStatus(await h.request('GET', `/v1/tasks/${results[2].body.id}`), 200);
      expect(third).toMatchObject({ priority: 9, input: { n: 3 } });
    });

    it('takes an idempotency key per item: a repeat is 200 created:false, the same key for another request is 409', async () => {
      const body = { tasks: [{ capability: 'batch-idem', input: 1, idempotencyKey: 'bk-1' }] };
      const first = expectStatus(await h.request('POST', '/v1/tasks/batch', { body }), 200).results[0];
      expect(first.status).toBe(202);
      const again = expectStatus(await h.request('POST', '/v1/tasks/batch', { body }), 200).results[0];
      expect(again).toEqual({ status: 200, body: { id: first.body.id, status: 'queued', created: false } });
      const clash = expectStatus(await h.request('POST', '/v1/tasks/batch', { body: { tasks: [{ capability: 'batch-idem', input: 2, idempotencyKey: 'bk-1' }] } }), 200).results[0];
      expect(clash.status).toBe(409);
      expect(clash.body.type).toBe(`${PROBLEM_BASE}conflict`);
      expect(await listIds('batch-idem')).toEqual([first.body.id]);
    });

    it('refuses the whole batch with 400 naming the field when an item violates the schema, submitting nothing', async () => {
      const res = await h.request('POST', '/v1/tasks/batch', { body: { tasks: [{ capability: 'batch-bad', input: 1 }, { capability: 'batch-bad', priority: 12 }] } });
      expect(expectProblem(res, 400, 'validation').field).toBe('body.tasks[1].priority');
      expect(await listIds('batch-bad')).toEqual([]);
      expectProblem(await h.request('POST', '/v1/tasks/batch', { body: { tasks: [] } }), 400, 'validation');
      const tooMany = Array.from({ length: 101 }, () => ({ capability: 'batch-bad' }));
      expectProblem(await h.request('POST', '/v1/tasks/batch', { body: { tasks: tooMany } }), 400, 'validation');
      expectProblem(await h.request('POST', '/v1/tasks/batch', { body: { tasks: [{ capability: 'batch-bad', extra: true }] } }), 400, 'validation');
    });

    it('applies the tenant quota item by item: the items past it are 429 with retryAfterSeconds', async () => {
      const { key } = await createTenant(h, 'batch-quota', { maxTasksPerHour: 2 });
      const res = await h.request('POST', '/v1/tasks/batch', { key, body: { tasks: [1, 2, 3].map((n) => ({ capability: 'q', input: n })) } });
      const { results } = expectStatus(res, 200);
      expect(results.map((r: { status: number }) => r.status)).toEqual([202, 202, 429]);
      expect(results[2].body).toMatchObject({ type: `${PROBLEM_BASE}quota_exceeded`, quota: 'maxTasksPerHour', retryAfterSeconds: 60 });
    });

    it('answers per item 403 for a role that may not submit, and 401 without a key', async () => {
      const { key } = await createApiKey(h, 'observer');
      const { results } = expectStatus(await h.request('POST', '/v1/tasks/batch', { key, body: { tasks: [{ capability: 'batch-role' }] } }), 200);
      expect(results[0].status).toBe(403);
      expect(await listIds('batch-role')).toEqual([]);
      expectProblem(await h.request('POST', '/v1/tasks/batch', { key: null, body: { tasks: [{ capability: 'batch-role' }] } }), 401, 'unauthorized');
    });
  });

  describe('POST /v1/tasks/settle', () => {
    it('completes and fails held tasks per item; a task not held is 409, an unknown or foreign one 404', async () => {
      const agent = await registerAgent(h, 'settler', ['settle'], { maxConcurrentTasks: 2 });
      const ids = [await submitTask(h, { capability: 'settle', input: 1 }), await submitTask(h, { capability: 'settle', input: 2 })];
      for (const id of ids) expect(expectStatus(await h.request('GET', `/v1/agents/${agent.id}/tasks/next?waitMs=2000`), 200).id).toBe(id);
      const queued = await submitTask(h, { capability: 'unheld', input: 3 });
      const other = await createTenant(h, 'settle-other');
      const foreign = await submitTask(h, { capability: 'settle', input: 4 }, { key: other.key });

      const outcomes = [
        { taskId: ids[0], agentId: agent.id, outcome: 'completed', output: { ok: 1 } },
        { taskId: ids[1], agentId: agent.id, outcome: 'failed', error: { message: 'no', code: 'bad_input' }, retryable: false },
        { taskId: queued, agentId: agent.id, outcome: 'completed' },
        { taskId: 'no-such-task', agentId: agent.id, outcome: 'completed' },
        { taskId: foreign, agentId: agent.id, outcome: 'completed' },
      ];
      const { results } = expectStatus(await h.request('POST', '/v1/tasks/settle', { body: { outcomes } }), 200);
      expect(results.map((r: { status: number }) => r.status)).toEqual([200, 200, 409, 404, 404]);
      expect(results[0].body).toEqual({ id: ids[0], status: 'completed' });
      expect(results[1].body).toEqual({ id: ids[1], status: 'failed' });
      expect(expectStatus(await h.request('GET', `/v1/tasks/${ids[0]}`), 200)).toMatchObject({ status: 'completed', output: { ok: 1 } });
      expect(expectStatus(await h.request('GET', `/v1/tasks/${ids[1]}`), 200)).toMatchObject({ status: 'failed', error: { message: 'no', code: 'bad_input' } });
      expect(expectStatus(await h.request('GET', `/v1/tasks/${foreign}`, { key: other.key }), 200).status).toBe('queued');

      // Completion is idempotent here as it is one by one.
      const again = expectStatus(await h.request('POST', '/v1/tasks/settle', { body: { outcomes: [outcomes[0]] } }), 200);
      expect(again.results[0]).toEqual({ status: 200, body: { id: ids[0], status: 'completed' } });
    });

    it('answers an item whose idempotency key is not text the store keeps 400 naming it', async () => {
      const { results } = expectStatus(await h.request('POST', '/v1/tasks/batch', { body: { tasks: [{ capability: 'idem-text', idempotencyKey: 'k\ud800' }, { capability: 'idem-text', idempotencyKey: 'k\u0000' }] } }), 200);
      expect(results.map((r: { status: number; body: { field?: string } }) => [r.status, r.body.field])).toEqual([
        [400, 'body.tasks[0].idempotencyKey'],
        [400, 'body.tasks[1].idempotencyKey'],
      ]);
    });

    it('answers an item whose text holds a NUL character 400 naming the field, like its single request, and settles the rest', async () => {
      const agent = await registerAgent(h, 'nul-settler', ['nul-settle'], { maxConcurrentTasks: 3 });
      const submitted = expectStatus(
        await h.request('POST', '/v1/tasks/batch', { body: { tasks: [{ capability: 'nul-settle', input: { text: 'a\u0000b' } }, { capability: 'nul-settle', input: 1 }, { capability: 'nul-settle', input: 2 }, { capability: 'nul-settle', input: 3 }] } }),
        200,
      );
      expect(submitted.results.map((r: { status: number }) => r.status)).toEqual([400, 202, 202, 202]);
      expect(submitted.results[0].body).toMatchObject({ type: `${PROBLEM_BASE}validation`, field: 'body.tasks[0].input', detail: expect.stringContaining('NUL') });
      const ids: string[] = submitted.results.slice(1).map((r: { body: { id: string } }) => r.body.id);
      for (let i = 0; i < ids.length; i++) expectStatus(await h.request('GET', `/v1/agents/${agent.id}/tasks/next?waitMs=2000`), 200);
      const outcomes = [
        { taskId: ids[0], agentId: agent.id, outcome: 'completed', output: 'a\u0000b' },
        { taskId: ids[1], agentId: agent.id, outcome: 'failed', error: { message: 'a\u0000b' } },
        { taskId: ids[2], agentId: agent.id, outcome: 'completed', output: { literal: '\\u0000 is six characters here' } },
      ];
      const { results } = expectStatus(await h.request('POST', '/v1/tasks/settle', { body: { outcomes } }), 200);
      expect(results.map((r: { status: number }) => r.status)).toEqual([400, 400, 200]);
      expect(results[0].body).toMatchObject({ type: `${PROBLEM_BASE}validation`, field: 'body.outcomes[0].output' });
      expect(results[1].body).toMatchObject({ type: `${PROBLEM_BASE}validation`, field: 'body.outcomes[1].error' });
      // Nothing was lost: the refused ones are still held, and the agent can settle them properly.
      expect(expectStatus(await h.request('GET', `/v1/tasks/${ids[0]}`), 200).status).toBe('running');
      expect(expectStatus(await h.request('GET', `/v1/tasks/${ids[2]}`), 200).output).toEqual({ literal: '\\u0000 is six characters here' });
    });

    it('refuses an outcome it does not know with 400, settling nothing', async () => {
      const res = await h.request('POST', '/v1/tasks/settle', { body: { outcomes: [{ taskId: 'x', agentId: 'settler', outcome: 'maybe' }] } });
      expect(expectProblem(res, 400, 'validation')).toMatchObject({ field: 'body.outcomes[0].outcome', detail: 'body.outcomes[0].outcome must be "completed", or be "failed"' });
      const missing = await h.request('POST', '/v1/tasks/settle', { body: { outcomes: [{ taskId: 'x', agentId: 'settler' }] } });
      expect(expectProblem(missing, 400, 'validation')).toMatchObject({ field: 'body.outcomes[0].outcome', detail: 'body.outcomes[0].outcome is required' });
      // A known outcome with a field of the other form: each form says what it lacks.
      const mixed = await h.request('POST', '/v1/tasks/settle', { body: { outcomes: [{ taskId: 'x', agentId: 'settler', outcome: 'completed', retryable: true }] } });
      expect(expectProblem(mixed, 400, 'validation').detail).toBe("body.outcomes[0] must not have the field 'retryable', or have the field 'error'");
      // Of the forms, the one the item got furthest into says what is wrong: a failure whose message is too long.
      const long = await h.request('POST', '/v1/tasks/settle', { body: { outcomes: [{ taskId: 'x', agentId: 'settler', outcome: 'failed', error: 'e'.repeat(9000) }] } });
      expect(expectProblem(long, 400, 'validation')).toMatchObject({ field: 'body.outcomes[0].error', detail: 'body.outcomes[0].error must NOT have more than 8192 characters, or be object' });
    });
  });
});
