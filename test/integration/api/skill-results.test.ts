import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, AgentMeshClient } from '../../../src/sdk/index.js';
import { createTenant, expectProblem, expectStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

/** An agent of `tenantKey` that squares numbers and counts how often it was asked. */
async function squarer(h: Harness, id: string, key: string) {
  const calls: number[] = [];
  const agent = await new Agent({ url: h.url, apiKey: key, id, name: id, capabilities: ['square', 'pad'], heartbeatIntervalMs: 500 })
    .handle('square', async (input: { n: number }) => {
      calls.push(input.n);
      return { square: input.n * input.n };
    })
    .handle('pad', async (input: { bytes: number }) => {
      calls.push(-1);
      return 'x'.repeat(input.bytes);
    })
    .start();
  return { agent, calls };
}

describe('skill result cache (AGENTMESH_CACHE_RESULTS=on)', () => {
  let h: Harness;
  let acme: { key: string; keyId: string };
  let own: Awaited<ReturnType<typeof squarer>>;
  let theirs: Awaited<ReturnType<typeof squarer>>;

  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_CACHE_RESULTS: 'on', AGENTMESH_CACHE_RESULT_MAX_BYTES: '1024' });
    acme = await createTenant(h, 'acme');
    own = await squarer(h, 'squarer-default', h.adminKey);
    theirs = await squarer(h, 'squarer-acme', acme.key);
  });
  afterAll(async () => {
    await Promise.all([own?.agent.stop(), theirs?.agent.stop()]);
    await h?.close();
  });

  it('an identical task (same capability, canonical input) completes at submit from the kept result, marked cached, without an agent', async () => {
    const first = await h.admin.run<{ square: number }>('square', { n: 3, note: { a: 1, b: 2 } }, { cache: { ttlSeconds: 60 }, timeoutMs: 5000 });
    expect(first).toMatchObject({ status: 'completed', output: { square: 9 }, agentId: 'squarer-default' });
    expect(first.cached).toBeUndefined();
    const submitted = await h.request('POST', '/v1/tasks', { body: { capability: 'square', input: { note: { b: 2, a: 1 }, n: 3 }, cache: { ttlSeconds: 60 } } });
    expect(expectStatus(submitted, 202)).toMatchObject({ status: 'completed', created: true, cached: true });
    const task = expectStatus(await h.request('GET', `/v1/tasks/${submitted.body.id}`), 200);
    expect(task).toMatchObject({ status: 'completed', output: { square: 9 }, cached: true, attempts: 0, cache: { ttlSeconds: 60 } });
    expect(task).not.toHaveProperty('agentId');
    expect(own.calls).toEqual([3]);
    // Recorded as such in the audit log.
    const audit = expectStatus(await h.request('GET', '/v1/audit?action=TASK_SUBMITTED&limit=20'), 200);
    expect(audit.items.find((e: any) => e.resourceId === task.id)?.details).toMatchObject({ capability: 'square', cached: true });
    expect(audit.items.find((e: any) => e.resourceId === first.id)?.details).not.toHaveProperty('cached');
  });

  it('runs the task when anything differs: the input, no cache asked, another tenant; a key stands for the input', async () => {
    await h.admin.run('square', { n: 5 }, { cache: { ttlSeconds: 60 }, timeoutMs: 5000 });
    expect((await h.admin.run('square', { n: 6 }, { cache: { ttlSeconds: 60 }, timeoutMs: 5000 })).cached).toBeUndefined();
    expect((await h.admin.run('square', { n: 5 }, { timeoutMs: 5000 })).cached).toBeUndefined();
    const acmeClient = new AgentMeshClient({ url: h.url, apiKey: acme.key });
    const inAcme = await acmeClient.run<{ square: number }>('square', { n: 5 }, { cache: { ttlSeconds: 60 }, timeoutMs: 5000 });
    expect(inAcme).toMatchObject({ output: { square: 25 }, agentId: 'squarer-acme' });
    expect(inAcme.cached).toBeUndefined();
    await h.admin.run('square', { n: 7 }, { cache: { ttlSeconds: 60, key: 'seven' }, timeoutMs: 5000 });
    const byKey = await h.admin.run<{ square: number }>('square', { n: 8 }, { cache: { ttlSeconds: 60, key: 'seven' }, timeoutMs: 5000 });
    expect(byKey).toMatchObject({ cached: true, output: { square: 49 } });
    expect(own.calls).toEqual([3, 5, 6, 5, 7]);
  });

  it('keeps a result for its TTL only, and none longer than AGENTMESH_CACHE_RESULT_MAX_BYTES', async () => {
    await h.admin.run('square', { n: 11 }, { cache: { ttlSeconds: 1 }, timeoutMs: 5000 });
    expect((await h.admin.run('square', { n: 11 }, { cache: { ttlSeconds: 1 }, timeoutMs: 5000 })).cached).toBe(true);
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await h.admin.run('square', { n: 11 }, { cache: { ttlSeconds: 1 }, timeoutMs: 5000 })).cached).toBeUndefined();
    const before = own.calls.length;
    for (let i = 0; i < 2; i++) expect((await h.admin.run('pad', { bytes: 2000 }, { cache: { ttlSeconds: 60 }, timeoutMs: 5000 })).cached).toBeUndefined();
    expect(own.calls.length - before).toBe(2);
    expect(h.running.mesh.ctx.skillResults.tooLarge).toBe(2);
  });

  it('refuses a bad cache policy with problem+json naming the field', async () => {
    for (const cache of [{ ttlSeconds: 0 }, { ttlSeconds: 86_401 }, { ttlSeconds: 'soon' }, { ttlSeconds: 5, key: '' }, { ttlSeconds: 5, extra: true }]) {
      const problem = expectProblem(await h.request('POST', '/v1/tasks', { body: { capability: 'square', input: {}, cache } }), 400, 'validation');
      expect(problem.field).toMatch(/^body\.cache/);
    }
    const broadcast = expectProblem(await h.request('POST', '/v1/tasks', { body: { capability: 'square', routing: { strategy: 'broadcast' }, cache: { ttlSeconds: 5 } } }), 400, 'validation');
    expect(broadcast.detail).toMatch(/broadcast/);
  });
});

describe('skill result cache off (the default)', () => {
  it('ignores a task’s cache: identical tasks each run', async () => {
    const h = await startHarness();
    const { agent, calls } = await squarer(h, 'squarer-off', h.adminKey);
    try {
      for (let i = 0; i < 2; i++) expect((await h.admin.run('square', { n: 2 }, { cache: { ttlSeconds: 60 }, timeoutMs: 5000 })).cached).toBeUndefined();
      expect(calls).toEqual([2, 2]);
    } finally {
      await agent.stop();
      await h.close();
    }
  });
});
