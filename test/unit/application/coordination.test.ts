import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { KeyedMutex } from '../../../src/application/keyed-mutex.js';
import { SubmitCounter } from '../../../src/application/submit-counter.js';
import { TaskWaiters } from '../../../src/application/task-waiters.js';
import { agentInboxSubject, subjectToken, taskSettledSubject } from '../../../src/application/subjects.js';
import { QuotaExceededError, submitTask, type Task } from '../../../src/domain/index.js';

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Let every pending microtask (and the promise chains they start) run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('KeyedMutex', () => {
  it('serializes work on one key, in call order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const runs = gates.map((gate, i) =>
      mutex.run('k', async () => {
        log.push(`start ${i}`);
        await gate.promise;
        log.push(`end ${i}`);
        return i * 10;
      }),
    );
    await settle();
    expect(log).toEqual(['start 0']);
    expect(mutex.heldKeys).toBe(1);

    gates[1]!.resolve(); // finishing out of order must not let 1 run early
    await settle();
    expect(log).toEqual(['start 0']);

    gates[0]!.resolve();
    await settle();
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2']);

    gates[2]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 10, 20]);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    expect(mutex.heldKeys).toBe(0);
  });

  it('runs different keys concurrently', async () => {
    const mutex = new KeyedMutex();
    const a = deferred();
    const b = deferred();
    const started: string[] = [];
    const runA = mutex.run('a', async () => {
      started.push('a');
      await a.promise;
    });
    const runB = mutex.run('b', async () => {
      started.push('b');
      await b.promise;
    });
    await settle();
    expect(started).toEqual(['a', 'b']);
    expect(mutex.heldKeys).toBe(2);
    b.resolve();
    await runB;
    expect(mutex.heldKeys).toBe(1);
    a.resolve();
    await runA;
    expect(mutex.heldKeys).toBe(0);
  });

  it('passes a failure to its caller and still lets the next holder in', async () => {
    const mutex = new KeyedMutex();
    const first = mutex.run('k', async () => {
      throw new Error('boom');
    });
    const second = mutex.run('k', async () => 'ok');
    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe('ok');
    expect(mutex.heldKeys).toBe(0);
  });

  it('frees the key after a synchronous throw', async () => {
    const mutex = new KeyedMutex();
    await expect(
      mutex.run('k', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(mutex.heldKeys).toBe(0);
    await expect(mutex.run('k', async () => 1)).resolves.toBe(1);
  });

  it('property: random work over a few keys never overlaps per key, keeps call order per key, and leaves no entries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), ticks: fc.integer({ min: 0, max: 3 }), fails: fc.boolean() }), { minLength: 1, maxLength: 25 }),
        async (jobs) => {
          const mutex = new KeyedMutex();
          const active = new Map<string, number>();
          const order = new Map<string, number[]>();
          let maxActiveOverall = 0;
          let activeOverall = 0;
          const runs = jobs.map((job, i) =>
            mutex
              .run(job.key, async () => {
                active.set(job.key, (active.get(job.key) ?? 0) + 1);
                activeOverall++;
                maxActiveOverall = Math.max(maxActiveOverall, activeOverall);
                expect(active.get(job.key)).toBe(1);
                order.set(job.key, [...(order.get(job.key) ?? []), i]);
                for (let t = 0; t < job.ticks; t++) await Promise.resolve();
                active.set(job.key, active.get(job.key)! - 1);
                activeOverall--;
                if (job.fails) throw new Error(`job ${i}`);
                return i;
              })
              .catch(() => -1),
          );
          const results = await Promise.all(runs);
          expect(results).toEqual(jobs.map((job, i) => (job.fails ? -1 : i)));
          for (const [key, seen] of order) {
            expect(seen).toEqual(jobs.flatMap((job, i) => (job.key === key ? [i] : [])));
          }
          const distinctKeys = new Set(jobs.map((j) => j.key)).size;
          expect(maxActiveOverall).toBeLessThanOrEqual(distinctKeys);
          expect(mutex.heldKeys).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('SubmitCounter', () => {
  const MIN = 60_000;
  const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MIN); // start of a minute

  it('counts per tenant and is 0 for an unknown tenant', () => {
    const counter = new SubmitCounter();
    counter.record('t1', T0);
    counter.record('t1', T0 + 1000, 4);
    counter.record('t2', T0 + 2000);
    expect(counter.lastHour('t1', T0 + 3000)).toBe(5);
    expect(counter.lastHour('t2', T0 + 3000)).toBe(1);
    expect(counter.lastHour('nobody', T0 + 3000)).toBe(0);
  });

  it('counts everything within the last hour and forgets a minute once it is an hour old', () => {
    const counter = new SubmitCounter();
    counter.record('t', T0); // minute m
    counter.record('t', T0 + 30 * MIN, 2); // minute m + 30
    counter.record('t', T0 + 59 * MIN, 3); // minute m + 59
    expect(counter.lastHour('t', T0 + 59 * MIN + MIN - 1)).toBe(6);
    expect(counter.lastHour('t', T0 + 60 * MIN)).toBe(5);
    expect(counter.lastHour('t', T0 + 90 * MIN)).toBe(3);
    expect(counter.lastHour('t', T0 + 119 * MIN - 1)).toBe(3);
    expect(counter.lastHour('t', T0 + 119 * MIN)).toBe(0);
    expect(counter.lastHour('t', T0 + 1000 * MIN)).toBe(0);
  });

  it('reuses a bucket an hour later without carrying the old count', () => {
    const counter = new SubmitCounter();
    counter.record('t', T0 + 5 * MIN, 7);
    counter.record('t', T0 + 65 * MIN, 2); // same slot, next hour
    expect(counter.lastHour('t', T0 + 65 * MIN)).toBe(2);
    counter.record('t', T0 + 185 * MIN, 1); // two hours later, same slot again
    expect(counter.lastHour('t', T0 + 185 * MIN)).toBe(1);
  });

  it('property: equals the number of records in the last 60 whole minutes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 10 * MIN }), n: fc.integer({ min: 1, max: 5 }), tenant: fc.constantFrom('a', 'b') }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 3 * 3600_000 }),
        (records, after) => {
          const counter = new SubmitCounter();
          let now = T0;
          const log: Array<{ at: number; n: number; tenant: string }> = [];
          for (const r of records) {
            now += r.gap;
            counter.record(r.tenant, now, r.n);
            log.push({ at: now, n: r.n, tenant: r.tenant });
          }
          const queryAt = now + after;
          const current = Math.floor(queryAt / MIN);
          for (const tenant of ['a', 'b']) {
            const expected = log
              .filter((l) => l.tenant === tenant && Math.floor(l.at / MIN) > current - 60)
              .reduce((sum, l) => sum + l.n, 0);
            expect(counter.lastHour(tenant, queryAt)).toBe(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('TaskWaiters', () => {
  const T0 = 1_700_000_000_000;
  const task = (id: string, tenantId = 'tenant-1'): Task => submitTask({ id, tenantId, capability: 'echo' }, T0).task;

  it('resolves every waiter of a task when it settles, and forgets them', async () => {
    const waiters = new TaskWaiters(100);
    const w1 = waiters.wait('tenant-1', 'task-1', 10_000);
    const w2 = waiters.wait('tenant-1', 'task-1', 10_000);
    const other = waiters.wait('tenant-1', 'task-2', 50);
    expect(waiters.count).toBe(3);
    const settled = { ...task('task-1'), status: 'completed' as const };
    waiters.settled(settled);
    expect(await w1).toBe(settled);
    expect(await w2).toBe(settled);
    expect(waiters.count).toBe(1);
    expect(await other).toBeUndefined();
    expect(waiters.count).toBe(0);
  });

  it('keeps tenants apart: the same task id in another tenant does not wake the waiter', async () => {
    const waiters = new TaskWaiters(100);
    const w = waiters.wait('tenant-1', 'task-1', 30);
    waiters.settled(task('task-1', 'tenant-2'));
    expect(await w).toBeUndefined();
    expect(waiters.count).toBe(0);
  });

  it('times out with undefined and leaves nothing behind; a later settle is harmless', async () => {
    const waiters = new TaskWaiters(100);
    const started = Date.now();
    const result = await waiters.wait('tenant-1', 'task-1', 25);
    expect(result).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(20);
    expect(waiters.count).toBe(0);
    expect(() => waiters.settled(task('task-1'))).not.toThrow();
    expect(waiters.count).toBe(0);
  });

  it('a settle with nobody waiting is a no-op, and a waiter that came after is not woken by it', async () => {
    const waiters = new TaskWaiters(100);
    waiters.settled(task('task-1'));
    const late = waiters.wait('tenant-1', 'task-1', 20);
    expect(waiters.count).toBe(1);
    expect(await late).toBeUndefined();
    expect(waiters.count).toBe(0);
  });

  it("refuses a tenant's wait past its bound (429, said once to the metrics) without touching another tenant's, and takes one again once a wait ends", async () => {
    const refused: string[] = [];
    const waiters = new TaskWaiters(2, (tenantId) => refused.push(tenantId));
    const first = waiters.wait('tenant-1', 'task-1', 10_000);
    void waiters.wait('tenant-1', 'task-2', 10_000);
    expect(() => waiters.wait('tenant-1', 'task-3', 10_000)).toThrow(QuotaExceededError);
    expect(() => waiters.wait('tenant-1', 'task-1', 10_000)).toThrow(
      expect.objectContaining({
        message: "tenant 'tenant-1' has 2 requests waiting for tasks to settle on this instance",
        code: 'quota_exceeded',
        details: { quota: 'maxTaskWaitsPerTenant', limit: 2, retryAfterSeconds: 1 },
      }),
    );
    expect(refused).toEqual(['tenant-1', 'tenant-1']);
    const other = waiters.wait('tenant-2', 'task-1', 20);
    expect(waiters.count).toBe(3);
    const settled = { ...task('task-1'), status: 'completed' as const };
    waiters.settled(settled);
    expect(await first).toBe(settled);
    expect(await other).toBeUndefined();
    expect(waiters.count).toBe(1);
    const again = waiters.wait('tenant-1', 'task-3', 10);
    expect(await again).toBeUndefined();
    waiters.releaseAll();
    expect(waiters.count).toBe(0);
  });

  it('a waiter that timed out does not affect one that is still waiting', async () => {
    const waiters = new TaskWaiters(100);
    const short = waiters.wait('tenant-1', 'task-1', 10);
    const long = waiters.wait('tenant-1', 'task-1', 10_000);
    expect(await short).toBeUndefined();
    expect(waiters.count).toBe(1);
    const t = task('task-1');
    waiters.settled(t);
    expect(await long).toBe(t);
    expect(waiters.count).toBe(0);
  });
});

describe('subjects', () => {
  it('percent-encodes characters that are special in broker subjects', () => {
    expect(subjectToken('a.b')).toBe('a%2Eb');
    expect(subjectToken('*')).toBe('%2A');
    expect(subjectToken('>')).toBe('%3E');
    expect(subjectToken('a b')).toBe('a%20b');
    expect(subjectToken('tab\there')).toBe('tab%09here');
    expect(subjectToken('100%')).toBe('100%25');
    expect(subjectToken('Safe_id:1-2')).toBe('Safe_id:1-2');
  });

  it('builds tenant-scoped subjects', () => {
    expect(agentInboxSubject('ten.ant', 'agent 1')).toBe('agentmesh.ten%2Eant.agent.agent%201');
    expect(taskSettledSubject('tenant', 'a.*.>')).toBe('agentmesh.tenant.task.a%2E%2A%2E%3E.settled');
  });

  const nastyChar = fc.constantFrom('.', '*', '>', ' ', '\t', '\n', '%', 'a', 'Z', '0', '_', ':', '-', '/', 'é');
  const nasty = fc.string({ unit: fc.oneof(nastyChar, fc.string({ minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 20 });

  it('property: subjects always have exactly the expected number of non-empty tokens, free of wildcards and whitespace', () => {
    fc.assert(
      fc.property(nasty, nasty, (tenantId, id) => {
        const inbox = agentInboxSubject(tenantId, id).split('.');
        expect(inbox).toHaveLength(4);
        expect(inbox[0]).toBe('agentmesh');
        expect(inbox[2]).toBe('agent');
        const settled = taskSettledSubject(tenantId, id).split('.');
        expect(settled).toHaveLength(5);
        expect([settled[0], settled[2], settled[4]]).toEqual(['agentmesh', 'task', 'settled']);
        for (const token of [...inbox, ...settled]) {
          expect(token.length).toBeGreaterThan(0);
          expect(token).not.toMatch(/[.*>\s]/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: the encoding is reversible (distinct ASCII ids give distinct tokens)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(nastyChar.filter((c) => c.charCodeAt(0) < 128), fc.string({ minLength: 1, maxLength: 1, unit: 'binary-ascii' })), maxLength: 20 }), (id) => {
        const token = subjectToken(id);
        expect(token).toMatch(/^[A-Za-z0-9_:%-]*$/);
        expect(decodeURIComponent(token)).toBe(id);
      }),
      { numRuns: 500 },
    );
  });
});
