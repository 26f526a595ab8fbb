import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  CAPABILITY_WEIGHTS,
  PriorityTaskQueue,
  affinity,
  affinityOwner,
  capabilityBased,
  capabilityScore,
  hasFreeSlot,
  leastLoaded,
  loadRatio,
  roundRobin,
  selectAgent,
  type QueuedTask,
  type RoutingCandidate,
} from '../../../src/domain/index.js';

function candidate(id: string, overrides: Partial<RoutingCandidate> = {}): RoutingCandidate {
  return {
    id,
    inFlight: 0,
    maxConcurrentTasks: 1,
    proficiency: 3,
    assignedCount: 0,
    completedCount: 0,
    failedCount: 0,
    avgLatencyMs: 0,
    freshness: 1,
    ...overrides,
  };
}

const idArb = fc.string({ minLength: 1, maxLength: 10 });

/** A valid candidate snapshot: 0 <= inFlight <= maxConcurrentTasks, freshness in [0, 1]. */
const candidateFields = fc
  .record({
    maxConcurrentTasks: fc.integer({ min: 1, max: 5 }),
    inFlightRaw: fc.integer({ min: 0, max: 5 }),
    proficiency: fc.integer({ min: 1, max: 5 }),
    assignedCount: fc.integer({ min: 0, max: 20 }),
    completedCount: fc.integer({ min: 0, max: 1000 }),
    failedCount: fc.integer({ min: 0, max: 1000 }),
    avgLatencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
    freshness: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ inFlightRaw, ...rest }) => ({ ...rest, inFlight: Math.min(inFlightRaw, rest.maxConcurrentTasks) }));

const candidatesArb = (opts: { minLength?: number; maxLength?: number } = {}) =>
  fc
    .tuple(fc.uniqueArray(idArb, { minLength: opts.minLength ?? 0, maxLength: opts.maxLength ?? 8 }), fc.array(candidateFields, { minLength: 8, maxLength: 8 }))
    .map(([ids, fields]) => ids.map((id, i) => ({ id, ...fields[i]! })));

const sortedIds = (cs: readonly RoutingCandidate[]) => cs.map((c) => c.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('roundRobin', () => {
  it('property: rotating over free agents spreads selections evenly (counts differ by at most 1)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(idArb, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 60 }),
        fc.option(idArb, { nil: undefined }),
        (ids, rounds, initialLast) => {
          const candidates = ids.map((id) => candidate(id, { maxConcurrentTasks: 3 }));
          const counts = new Map(ids.map((id) => [id, 0]));
          let last = initialLast;
          for (let i = 0; i < rounds; i++) {
            const chosen = roundRobin(candidates, last);
            expect(chosen).toBeDefined();
            expect(counts.has(chosen!)).toBe(true);
            if (ids.length > 1) expect(chosen).not.toBe(last);
            counts.set(chosen!, counts.get(chosen!)! + 1);
            last = chosen;
          }
          const values = [...counts.values()];
          expect(values.reduce((a, b) => a + b, 0)).toBe(rounds);
          expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: picks the next free agent after lastAgentId in id order, wrapping; never a full one; undefined iff none free', () => {
    fc.assert(
      fc.property(candidatesArb(), fc.option(idArb, { nil: undefined }), (candidates, last) => {
        const chosen = roundRobin(candidates, last);
        const free = sortedIds(candidates.filter(hasFreeSlot));
        if (free.length === 0) {
          expect(chosen).toBeUndefined();
          return;
        }
        expect(chosen).toBeDefined();
        const picked = candidates.find((c) => c.id === chosen)!;
        expect(picked.inFlight).toBeLessThan(picked.maxConcurrentTasks);
        const expected = last === undefined ? free[0] : (free.find((id) => id > last) ?? free[0]);
        expect(chosen).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('skips full agents in rotation', () => {
    const candidates = [candidate('a'), candidate('b', { inFlight: 1 }), candidate('c')];
    expect(roundRobin(candidates, undefined)).toBe('a');
    expect(roundRobin(candidates, 'a')).toBe('c');
    expect(roundRobin(candidates, 'c')).toBe('a');
    expect(roundRobin([], undefined)).toBeUndefined();
    expect(roundRobin([candidate('x', { inFlight: 1 })], undefined)).toBeUndefined();
  });
});

describe('leastLoaded', () => {
  it('property: returns a free agent with minimal load ratio, ties to the fewest assigned; undefined iff none free', () => {
    fc.assert(
      fc.property(candidatesArb(), (candidates) => {
        const chosen = leastLoaded(candidates);
        const free = candidates.filter(hasFreeSlot);
        if (free.length === 0) {
          expect(chosen).toBeUndefined();
          return;
        }
        const picked = free.find((c) => c.id === chosen);
        expect(picked).toBeDefined();
        const minRatio = Math.min(...free.map(loadRatio));
        expect(loadRatio(picked!)).toBe(minRatio);
        const tied = free.filter((c) => loadRatio(c) === minRatio);
        expect(picked!.assignedCount).toBe(Math.min(...tied.map((c) => c.assignedCount)));
        // the choice does not depend on the order the candidates come in
        expect(leastLoaded([...candidates].reverse())).toBe(chosen);
      }),
      { numRuns: 300 },
    );
  });

  it('compares load relative to capacity, not absolute in-flight counts', () => {
    const candidates = [candidate('small', { inFlight: 1, maxConcurrentTasks: 2 }), candidate('big', { inFlight: 3, maxConcurrentTasks: 10 })];
    expect(leastLoaded(candidates)).toBe('big');
    expect(leastLoaded([candidate('a', { inFlight: 1 }), candidate('b', { inFlight: 1 })])).toBeUndefined();
  });
});

describe('capabilityBased', () => {
  it('weights sum to 1', () => {
    const sum = Object.values(CAPABILITY_WEIGHTS).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 12);
  });

  it('scores the ideal candidate 1 and each factor moves the score by its weight', () => {
    const ideal = candidate('x', { proficiency: 5, freshness: 1, inFlight: 0, maxConcurrentTasks: 4, avgLatencyMs: 0 });
    expect(capabilityScore(ideal)).toBeCloseTo(1, 12);
    expect(capabilityScore(ideal) - capabilityScore({ ...ideal, freshness: 0 })).toBeCloseTo(CAPABILITY_WEIGHTS.availability, 12);
    expect(capabilityScore(ideal) - capabilityScore({ ...ideal, proficiency: 1 })).toBeCloseTo(CAPABILITY_WEIGHTS.proficiency * 0.8, 12);
    expect(capabilityScore(ideal) - capabilityScore({ ...ideal, inFlight: 2 })).toBeCloseTo(CAPABILITY_WEIGHTS.load * 0.5, 12);
    expect(capabilityScore(ideal) - capabilityScore({ ...ideal, completedCount: 1, failedCount: 3 })).toBeCloseTo(CAPABILITY_WEIGHTS.successRate * 0.75, 12);
    expect(capabilityScore(ideal) - capabilityScore({ ...ideal, avgLatencyMs: 1000 })).toBeCloseTo(CAPABILITY_WEIGHTS.responseTime * 0.5, 12);
  });

  it('property: every valid candidate scores within [0, 1]', () => {
    fc.assert(
      fc.property(candidateFields, (fields) => {
        const score = capabilityScore({ id: 'x', ...fields });
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('property: returns a free agent with the maximal score; undefined iff none free', () => {
    fc.assert(
      fc.property(candidatesArb(), (candidates) => {
        const chosen = capabilityBased(candidates);
        const free = candidates.filter(hasFreeSlot);
        if (free.length === 0) {
          expect(chosen).toBeUndefined();
          return;
        }
        const picked = free.find((c) => c.id === chosen);
        expect(picked).toBeDefined();
        expect(capabilityScore(picked!)).toBe(Math.max(...free.map(capabilityScore)));
      }),
      { numRuns: 300 },
    );
  });

  it('prefers the more proficient agent, all else equal, and ignores full ones', () => {
    const candidates = [candidate('novice', { proficiency: 1 }), candidate('expert', { proficiency: 5 })];
    expect(capabilityBased(candidates)).toBe('expert');
    expect(capabilityBased([candidate('novice', { proficiency: 1 }), candidate('expert', { proficiency: 5, inFlight: 1 })])).toBe('novice');
  });
});

describe('affinity (rendezvous hashing)', () => {
  const keys = Array.from({ length: 2000 }, (_, i) => `key-${i}`);
  const owners = (cs: readonly RoutingCandidate[]) => keys.map((k) => affinityOwner(cs, k)?.id);

  it('property: the same key and candidates always give the same agent, in any order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(idArb, { minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), fc.integer(), (ids, key, seed) => {
        const candidates = ids.map((id) => candidate(id, { maxConcurrentTasks: 2 }));
        const r = Math.abs(seed) % candidates.length;
        const shuffled = [...candidates.slice(r), ...candidates.slice(0, r)].reverse();
        const chosen = affinity(candidates, key);
        expect(chosen).toBeDefined();
        expect(ids).toContain(chosen);
        expect(affinity(candidates, key)).toBe(chosen);
        expect(affinity(shuffled, key)).toBe(chosen);
        expect(affinityOwner(candidates, key)?.id).toBe(chosen);
      }),
      { numRuns: 300 },
    );
  });

  it('property: removing one agent moves only the keys that agent owned', () => {
    fc.assert(
      fc.property(fc.uniqueArray(idArb, { minLength: 2, maxLength: 10 }), fc.nat(), (ids, pick) => {
        const candidates = ids.map((id) => candidate(id));
        const removed = ids[pick % ids.length]!;
        const before = owners(candidates);
        const after = owners(candidates.filter((c) => c.id !== removed));
        let moved = 0;
        before.forEach((owner, i) => {
          if (owner === removed) {
            expect(after[i]).not.toBe(removed);
            expect(after[i]).toBeDefined();
            moved++;
          } else {
            expect(after[i]).toBe(owner);
          }
        });
        expect(moved).toBe(before.filter((o) => o === removed).length);
      }),
      { numRuns: 25 },
    );
  });

  it('property: adding an agent to n moves about 1/(n+1) of the keys, all to the newcomer', () => {
    fc.assert(
      fc.property(fc.uniqueArray(idArb, { minLength: 2, maxLength: 13 }), (allIds) => {
        const ids = allIds.slice(0, -1);
        const newcomer = allIds[allIds.length - 1]!;
        const n = ids.length;
        const before = owners(ids.map((id) => candidate(id)));
        const after = owners([...ids, newcomer].map((id) => candidate(id)));
        let moved = 0;
        before.forEach((owner, i) => {
          if (after[i] !== owner) {
            expect(after[i]).toBe(newcomer);
            moved++;
          }
        });
        const fraction = moved / keys.length;
        expect(fraction).toBeLessThan(2.5 / (n + 1));
        expect(fraction).toBeGreaterThan(0.4 / (n + 1));
      }),
      { numRuns: 25 },
    );
  });

  it('spreads keys roughly evenly over agents', () => {
    const ids = ['agent-a', 'agent-b', 'agent-c', 'agent-d'];
    const counts = new Map<string, number>();
    for (const owner of owners(ids.map((id) => candidate(id)))) counts.set(owner!, (counts.get(owner!) ?? 0) + 1);
    for (const id of ids) {
      expect(counts.get(id) ?? 0).toBeGreaterThan(350);
      expect(counts.get(id) ?? 0).toBeLessThan(650);
    }
  });

  it('property: a busy owner makes the task wait (undefined) rather than break affinity', () => {
    fc.assert(
      fc.property(fc.uniqueArray(idArb, { minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), (ids, key) => {
        const free = ids.map((id) => candidate(id, { maxConcurrentTasks: 2, inFlight: 1 }));
        const owner = affinity(free, key);
        expect(owner).toBeDefined();
        const withBusyOwner = free.map((c) => (c.id === owner ? { ...c, inFlight: 2 } : c));
        expect(affinity(withBusyOwner, key)).toBeUndefined();
        expect(affinityOwner(withBusyOwner, key)?.id).toBe(owner);
      }),
      { numRuns: 200 },
    );
  });

  it('has no owner without candidates', () => {
    expect(affinity([], 'k')).toBeUndefined();
    expect(affinityOwner([], 'k')).toBeUndefined();
  });
});

describe('selectAgent', () => {
  // Built so that each strategy gives a different answer.
  const candidates = [
    candidate('a', { inFlight: 1, maxConcurrentTasks: 2, proficiency: 5 }),
    candidate('b', { inFlight: 0, maxConcurrentTasks: 2, proficiency: 1 }),
    candidate('c', { inFlight: 0, maxConcurrentTasks: 2, proficiency: 1, assignedCount: 5 }),
  ];

  it('dispatches each strategy to its implementation', () => {
    expect(selectAgent('round_robin', candidates, { lastRoundRobinAgentId: 'b' })).toBe('c');
    expect(selectAgent('round_robin', candidates, {})).toBe('a');
    expect(selectAgent('least_loaded', candidates, { lastRoundRobinAgentId: 'b' })).toBe('b');
    expect(selectAgent('capability_based', candidates, {})).toBe('a');
    expect(selectAgent('broadcast', candidates, {})).toBeUndefined();
  });

  it.each(['load_balanced', 'least_connections', 'priority'] as const)('%s is an alias of least_loaded', (strategy) => {
    expect(selectAgent(strategy, candidates, { lastRoundRobinAgentId: 'b', affinityKey: 'k' })).toBe('b');
    fc.assert(
      fc.property(candidatesArb(), (cs) => {
        expect(selectAgent(strategy, cs, {})).toBe(leastLoaded(cs));
      }),
      { numRuns: 100 },
    );
  });

  it('property: affinity and round_robin use their context', () => {
    fc.assert(
      fc.property(candidatesArb(), fc.string({ maxLength: 10 }), fc.option(idArb, { nil: undefined }), (cs, key, last) => {
        expect(selectAgent('affinity', cs, { affinityKey: key })).toBe(affinity(cs, key));
        expect(selectAgent('round_robin', cs, last === undefined ? {} : { lastRoundRobinAgentId: last })).toBe(roundRobin(cs, last));
        expect(selectAgent('capability_based', cs, {})).toBe(capabilityBased(cs));
      }),
      { numRuns: 100 },
    );
  });
});

describe('PriorityTaskQueue', () => {
  const entry = (id: string, priority: number, seq: number): QueuedTask => ({ id, priority, seq, strategy: 'round_robin', availableAt: 0 });
  const ids = (q: PriorityTaskQueue) => [...q.inOrder()].map((e) => e.id);

  it('yields higher priority first, FIFO by seq within a priority', () => {
    const q = new PriorityTaskQueue();
    q.push(entry('low-1', 1, 1));
    q.push(entry('high-2', 9, 2));
    q.push(entry('low-3', 1, 3));
    q.push(entry('mid-4', 5, 4));
    q.push(entry('high-5', 9, 5));
    q.push(entry('zero-6', 0, 6));
    expect(ids(q)).toEqual(['high-2', 'high-5', 'mid-4', 'low-1', 'low-3', 'zero-6']);
    expect(q.size).toBe(6);
  });

  it('keeps seq order when a retry comes back with an older seq', () => {
    const q = new PriorityTaskQueue();
    q.push(entry('a', 5, 10));
    q.push(entry('b', 5, 11));
    q.push(entry('c', 5, 12));
    expect(ids(q)).toEqual(['a', 'b', 'c']);
    q.remove('a');
    expect(ids(q)).toEqual(['b', 'c']);
    q.push(entry('a', 5, 10)); // re-queued with its original seq
    q.push(entry('d', 5, 1)); // older than everything
    expect(ids(q)).toEqual(['d', 'a', 'b', 'c']);
  });

  it('yields any pushes and removals in priority, then seq, then push order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ priority: fc.integer({ min: 0, max: 2 }), seq: fc.integer({ min: 0, max: 20 }), remove: fc.boolean() }), { maxLength: 60 }),
        (ops) => {
          const q = new PriorityTaskQueue();
          const expected: Array<{ id: string; priority: number; seq: number; n: number }> = [];
          ops.forEach((op, n) => {
            const id = `t${n}`;
            q.push(entry(id, op.priority, op.seq));
            expected.push({ id, priority: op.priority, seq: op.seq, n });
            // Remove an earlier one now and then, as assignment does.
            if (op.remove && expected.length > 1) q.remove(expected.splice(n % expected.length, 1)[0]!.id);
          });
          expected.sort((a, b) => b.priority - a.priority || a.seq - b.seq || a.n - b.n);
          expect(ids(q)).toEqual(expected.map((e) => e.id));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('ignores a push of an id that is already queued', () => {
    const q = new PriorityTaskQueue();
    q.push(entry('a', 5, 10));
    q.push(entry('a', 9, 1));
    expect(q.size).toBe(1);
    expect([...q.inOrder()]).toEqual([entry('a', 5, 10)]);
  });

  it('remove reports whether the id was queued', () => {
    const q = new PriorityTaskQueue();
    q.push(entry('a', 5, 1));
    expect(q.has('a')).toBe(true);
    expect(q.remove('a')).toBe(true);
    expect(q.remove('a')).toBe(false);
    expect(q.remove('never')).toBe(false);
    expect(q.has('a')).toBe(false);
    expect(q.size).toBe(0);
    expect(ids(q)).toEqual([]);
  });

  it('supports removing entries while iterating (as the dispatcher does)', () => {
    const q = new PriorityTaskQueue();
    for (let i = 0; i < 20; i++) q.push(entry(`t${i}`, i % 3, i));
    const expected = ids(q);
    const seen: string[] = [];
    for (const e of q.inOrder()) {
      seen.push(e.id);
      q.remove(e.id);
      if (e.id === 't5') q.remove('t8'); // a later entry removed mid-iteration is not yielded
    }
    expect(seen).toEqual(expected.filter((id) => id !== 't8'));
    expect(q.size).toBe(0);
  });

  it('yields an entry once when the same object is removed and pushed back', () => {
    const q = new PriorityTaskQueue();
    const a = entry('a', 5, 1);
    q.push(a);
    q.remove('a');
    q.push(a);
    expect(q.size).toBe(1);
    expect(ids(q)).toEqual(['a']);
  });

  it('stays ordered across compaction of a long consumed prefix', () => {
    const q = new PriorityTaskQueue();
    for (let i = 0; i < 3000; i++) q.push(entry(`t${i}`, 4, i));
    let taken = 0;
    for (const e of q.inOrder()) {
      q.remove(e.id);
      if (++taken === 2500) break;
    }
    expect(q.size).toBe(500);
    // This pass skips the 2500 dead entries and compacts them away.
    expect(ids(q)).toEqual(Array.from({ length: 500 }, (_, i) => `t${2500 + i}`));
    q.push(entry('old', 4, 10)); // older than everything left
    q.push(entry('mid', 4, 2750));
    q.push(entry('new', 4, 5000));
    const order = ids(q);
    expect(order).toHaveLength(503);
    expect(order[0]).toBe('old');
    expect(order.indexOf('mid')).toBe(1 + 251);
    expect(order[order.length - 1]).toBe('new');
  });

  type QOp = { kind: 'push'; id: string; priority: number; seq: number } | { kind: 'remove'; id: string } | { kind: 'drain'; n: number };

  it('property: matches a sorted model (priority desc, seq asc, push order) under push/remove/partial drains', () => {
    const idPool = fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `id${i}`));
    const op: fc.Arbitrary<QOp> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('push' as const), id: idPool, priority: fc.integer({ min: 0, max: 9 }), seq: fc.integer({ min: 0, max: 30 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), id: idPool }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('drain' as const), n: fc.integer({ min: 0, max: 4 }) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const q = new PriorityTaskQueue();
        const model = new Map<string, { entry: QueuedTask; order: number }>();
        let pushes = 0;
        const expected = () =>
          [...model.values()]
            .sort((x, y) => y.entry.priority - x.entry.priority || x.entry.seq - y.entry.seq || x.order - y.order)
            .map((m) => m.entry.id);
        for (const o of ops) {
          if (o.kind === 'push') {
            const e = entry(o.id, o.priority, o.seq);
            q.push(e);
            if (!model.has(o.id)) model.set(o.id, { entry: e, order: pushes++ });
          } else if (o.kind === 'remove') {
            expect(q.remove(o.id)).toBe(model.delete(o.id));
          } else {
            // dispatch the first n entries in order, as the dispatcher does
            const want = expected().slice(0, o.n);
            const got: string[] = [];
            for (const e of q.inOrder()) {
              if (got.length === o.n) break;
              got.push(e.id);
              q.remove(e.id);
              model.delete(e.id);
            }
            expect(got).toEqual(want);
          }
          expect(q.size).toBe(model.size);
          for (const id of model.keys()) expect(q.has(id)).toBe(true);
          expect(ids(q)).toEqual(expected());
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('PriorityTaskQueue.pushMany', () => {
  it('merges returning entries in priority then seq order, without duplicates, after removals', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 6 }), priority: fc.integer({ min: 0, max: 9 }), seq: fc.nat(10_000) }), { selector: (e) => e.id, maxLength: 60 }),
        fc.func(fc.boolean()),
        (entries, parkIt) => {
          const q = new PriorityTaskQueue();
          const full = entries.map((e, i) => ({ ...e, seq: e.seq * 100 + i, strategy: 'affinity' as const, availableAt: 0 }));
          full.forEach((e) => q.push(e));
          const parked = full.filter((e) => parkIt(e.id));
          parked.forEach((e) => q.remove(e.id));
          q.pushMany(parked);
          q.pushMany(parked);
          const order = [...q.inOrder()].map((e) => e.id);
          const expected = [...full].sort((a, b) => b.priority - a.priority || a.seq - b.seq).map((e) => e.id);
          expect(order).toEqual(expected);
          expect(q.size).toBe(full.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
