import { describe, expect, it } from 'vitest';
import { Coalescer, type BatchItemReply } from '../../../src/sdk/coalescer.js';
import { AgentMeshError } from '../../../src/sdk/errors.js';

function recording(reply: (item: { n: number }) => BatchItemReply<number>) {
  const singles: unknown[] = [];
  const batches: unknown[][] = [];
  const coalescer = new Coalescer<number>(
    async (item) => (singles.push(item), (item as { n: number }).n * 10),
    async (json) => {
      const items = JSON.parse(json) as Array<{ n: number }>;
      batches.push(items);
      return items.map(reply);
    },
    { maxItems: 3, maxBytes: 1000 },
  );
  return { coalescer, singles, batches };
}

describe('Coalescer (SDK natural batching)', () => {
  it('sends calls of one tick as batches of at most maxItems, in order, and a lone call alone', async () => {
    const { coalescer, singles, batches } = recording((item) => ({ status: 200, body: item.n * 10 }));
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => coalescer.push({ n })));
    expect(results).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[{ n: 1 }, { n: 2 }, { n: 3 }], [{ n: 4 }, { n: 5 }]]);
    expect(singles).toEqual([]);
    expect(await coalescer.push({ n: 6 })).toBe(60);
    expect(singles).toEqual([{ n: 6 }]);
  });

  it('fails only the items whose reply is a problem, as AgentMeshError with the status and problem', async () => {
    const { coalescer } = recording((item) => (item.n === 2 ? { status: 409, body: { type: 'https://agentmesh.dev/problems/conflict', detail: 'taken' } } : { status: 202, body: item.n }));
    const settled = await Promise.allSettled([1, 2, 3].map((n) => coalescer.push({ n })));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (settled[1] as PromiseRejectedResult).reason as AgentMeshError;
    expect(error).toBeInstanceOf(AgentMeshError);
    expect(error.status).toBe(409);
    expect(error.message).toBe('409 taken');
    expect(error.type).toBe('https://agentmesh.dev/problems/conflict');
  });

  it('fails every item of a batch whose request failed, and sends a large item on its own', async () => {
    const coalescer = new Coalescer<number>(
      async () => 1,
      async () => {
        throw new Error('connection reset');
      },
      { maxItems: 10, maxBytes: 400 },
    );
    const settled = await Promise.allSettled([coalescer.push({ a: 1 }), coalescer.push({ a: 2 })]);
    expect(settled.map((s) => (s as PromiseRejectedResult).reason?.message)).toEqual(['connection reset', 'connection reset']);
    // Over a quarter of maxBytes: straight to the single path, not queued.
    await expect(coalescer.push({ big: 'x'.repeat(200) })).resolves.toBe(1);
  });
});
