import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, AgentMeshClient, AgentMeshError } from '../../src/sdk/index.js';
import { startHarness, type Harness } from '../support/mesh-harness.js';

/** A fetch that records which routes were called, for counting requests. */
function countingFetch() {
  const calls: string[] = [];
  const fetchFn: typeof fetch = (input, init) => {
    calls.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    return fetch(input, init);
  };
  return { calls, fetchFn };
}

describe('SDK natural batching over the real API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_MAX_INPUT_BYTES: '2048' });
  }, 60_000);
  afterAll(async () => h?.close());

  it('sends submits of one tick as one batch request, with each call answered on its own', async () => {
    const { calls, fetchFn } = countingFetch();
    const client = new AgentMeshClient({ url: h.url, apiKey: h.adminKey, fetch: fetchFn });
    const settled = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => client.submit('sdk-batch', i === 7 ? 'x'.repeat(3000) : { i }, i === 3 ? { idempotencyKey: 'sdk-b-3' } : {})),
    );
    expect(calls).toEqual(['POST /v1/tasks/batch']);
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(29);
    const tooLarge = (settled[7] as PromiseRejectedResult).reason;
    expect(tooLarge).toBeInstanceOf(AgentMeshError);
    expect((tooLarge as AgentMeshError).status).toBe(413);

    const again = await client.submit('sdk-batch', { i: 3 }, { idempotencyKey: 'sdk-b-3' });
    expect(again).toEqual({ id: (settled[3] as PromiseFulfilledResult<{ id: string }>).value.id, status: 'queued', created: false });
    expect(calls.at(-1)).toBe('POST /v1/tasks');
  });

  it('keeps single requests when batching is off', async () => {
    const { calls, fetchFn } = countingFetch();
    const client = new AgentMeshClient({ url: h.url, apiKey: h.adminKey, fetch: fetchFn, batching: false });
    await Promise.all([1, 2, 3].map((i) => client.submit('sdk-single', { i })));
    expect(calls).toEqual(['POST /v1/tasks', 'POST /v1/tasks', 'POST /v1/tasks']);
  });

  it('lets SDK agents settle tasks that finish together in shared requests', async () => {
    const { calls, fetchFn } = countingFetch();
    const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'batcher', capabilities: ['sdk-settle'], maxConcurrentTasks: 50, fetch: fetchFn })
      .handle('sdk-settle', async (input: { i: number }) => {
        if (input.i % 10 === 9) throw new Error('every tenth fails');
        return { doubled: input.i * 2 };
      })
      .start();
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => h.admin.run<{ doubled: number }>('sdk-settle', { i }, { maxAttempts: 1, timeoutMs: 15_000 })));
      expect(results.filter((t) => t.status === 'completed').map((t) => t.output?.doubled)).toEqual(
        Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 10 !== 9).map((i) => i * 2),
      );
      expect(results.filter((t) => t.status !== 'completed').map((t) => [t.status, t.error?.message])).toEqual(Array(4).fill(['dead_lettered', 'every tenth fails']));
      const settles = calls.filter((c) => c.endsWith('/settle') || c.endsWith('/complete') || c.endsWith('/fail'));
      expect(settles.length).toBeLessThan(40);
      expect(settles).toContain('POST /v1/tasks/settle');
    } finally {
      await worker.stop({ graceMs: 1000 });
    }
  });
  it.each([true, false])("fails a task at once, saying why, when the mesh refuses its handler's output or error, and settles the others alike (batching %s)", async (batching) => {
    const capability = `sdk-refused-${batching}`;
    const { calls, fetchFn } = countingFetch();
    // 'big' outputs are each over the output limit (2048 here), and 20 of them together over the body limit (2048 + 64 KiB):
    // a batch of them is refused as a whole, then item by item.
    const kinds = ['nul', 'nul-error', 'long-error', 'fine', ...Array.from({ length: 20 }, () => 'big')];
    // The first attempts all finish together, so that their settlements leave in the same tick.
    let started = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'refused', capabilities: [capability], batching, maxConcurrentTasks: kinds.length, fetch: fetchFn, onError: () => undefined })
      .handle(capability, async (input: { kind: string }) => {
        if (++started === kinds.length) open();
        await Promise.race([gate, new Promise((r) => setTimeout(r, 5_000))]);
        if (input.kind === 'nul') return { text: 'a\u0000b' };
        if (input.kind === 'big') return 'x'.repeat(4096);
        if (input.kind === 'nul-error') throw new Error('broke on a\u0000b');
        if (input.kind === 'long-error') throw new Error('e'.repeat(9000));
        return { fine: true };
      })
      .start();
    try {
      // A long lease: a task that waited it out instead would not end within the wait.
      const run = (kind: string) => h.admin.run<unknown>(capability, { kind }, { leaseMs: 600_000, maxAttempts: 3, timeoutMs: 20_000 });
      const [nul, nulError, longError, fine, ...big] = await Promise.all(kinds.map(run));
      expect(nul).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'output_refused', message: expect.stringContaining('NUL') } });
      for (const task of big) expect(task).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'output_refused', message: expect.stringContaining('413') } });
      // A handler's error is retryable unless it says otherwise: the attempts go on, each recorded.
      expect(nulError).toMatchObject({ status: 'dead_lettered', attempts: 3, error: { code: 'error_refused', message: expect.stringContaining('NUL') } });
      // A message longer than the mesh keeps is cut to it, not refused.
      expect(longError).toMatchObject({ status: 'dead_lettered', attempts: 3, error: { message: 'e'.repeat(8192) } });
      expect(fine).toMatchObject({ status: 'completed', output: { fine: true } });
      if (batching) expect(calls).toContain('POST /v1/tasks/settle');
    } finally {
      await worker.stop({ graceMs: 1000 });
    }
  });
});
