import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, type Harness } from '../support/mesh-harness.js';

/** The path from submit to a free agent costs one row write: the assignment joins the insert's commit. */
describe('submit to a free agent', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('stores the new task and its assignment in one row write, with both events', async () => {
    const agent = await h.admin.registerAgent({ id: 'one-write', name: 'one write', capabilities: [{ name: 'one-write' }] });
    const batcher = h.running.store.batcher;
    await batcher.drain();
    const writtenBefore = batcher.written;
    const { id } = await h.admin.submit('one-write', { n: 1 });
    await eventually(async () => (await h.admin.get(id)).status === 'assigned', 5000, 'the assignment');
    expect(batcher.written - writtenBefore).toBe(1);
    const events = await h.running.store.events.readStream('default', 'task', id);
    expect(events.map((e) => [e.type, e.version])).toEqual([
      ['TaskSubmitted', 1],
      ['TaskAssigned', 2],
    ]);
    const delivered = await h.admin.nextTask(agent.id, 2000);
    expect(delivered).toMatchObject({ id, attempt: 1 });
    await h.admin.complete(id, agent.id, 'done');
  });

  it('forgets a new task whose insert failed: nothing is queued, assigned or counted for it', async () => {
    await h.admin.registerAgent({ id: 'no-store', name: 'no store', capabilities: [{ name: 'no-store' }] });
    const { ctx } = h.running.mesh;
    const queuedBefore = ctx.dispatcher.queuedCount('default');
    const submittedBefore = ctx.stats.submitted;
    const tasks = h.running.store.tasks;
    const realInsert = tasks.insert.bind(tasks);
    tasks.insert = async () => Promise.reject(new Error('disk full'));
    try {
      const res = await h.request('POST', '/v1/tasks', { body: { capability: 'no-store', input: 1 } });
      expect(res.status).toBe(500);
    } finally {
      tasks.insert = realInsert;
    }
    expect(ctx.dispatcher.queuedCount('default')).toBe(queuedBefore);
    expect(ctx.stats.submitted).toBe(submittedBefore);
    await eventually(async () => (await h.admin.getAgent('no-store')).inFlight === 0, 2000, 'the agent slot to be free');
  });
});
