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
  it.each([400, 413])('sends each item of a batch refused as a whole (%i) again alone, so each gets its own answer', async (status) => {
    const singles: unknown[] = [];
    const coalescer = new Coalescer<number>(
      async (item) => {
        singles.push(item);
        if ((item as { n: number }).n === 2) throw new AgentMeshError(400, 'https://agentmesh.dev/problems/validation', '400 body.n is bad');
        return (item as { n: number }).n * 10;
      },
      async () => {
        throw new AgentMeshError(status, 'https://agentmesh.dev/problems/validation', `${status} refused`);
      },
      { maxItems: 10, maxBytes: 1000 },
    );
    const settled = await Promise.allSettled([1, 2, 3].map((n) => coalescer.push({ n })));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([10, '400 body.n is bad', 30]);
    expect(singles).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('does not send again a batch the server may have applied (a 5xx, a lost connection)', async () => {
    const singles: unknown[] = [];
    const coalescer = new Coalescer<number>(
      async (item) => (singles.push(item), 1),
      async () => {
        throw new AgentMeshError(503, 'https://agentmesh.dev/problems/unavailable', '503 away');
      },
      { maxItems: 10, maxBytes: 1000 },
    );
    const settled = await Promise.allSettled([coalescer.push({ n: 1 }), coalescer.push({ n: 2 })]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(singles).toEqual([]);
  });
});
