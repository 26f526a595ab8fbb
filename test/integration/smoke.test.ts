import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/mesh-harness.js';

describe('smoke: a task flows from submit to completion', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('routes to a registered agent and completes over long poll', async () => {
    const agent = await h.admin.registerAgent({ id: 'smoke-agent', name: 'smoke', capabilities: [{ name: 'echo' }] });
    const { id } = await h.admin.submit('echo', { hello: 'world' });
    const delivered = await h.admin.nextTask(agent.id, 2000);
    expect(delivered?.id).toBe(id);
    expect(delivered?.input).toEqual({ hello: 'world' });
    await h.admin.complete(id, agent.id, { echoed: true });
    const task = await h.admin.get(id);
    expect(task.status).toBe('completed');
    expect(task.output).toEqual({ echoed: true });
  });
});
