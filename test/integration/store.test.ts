import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, complete, ConcurrencyError, ConflictError, start, submitTask, type Task } from '../../src/domain/index.js';
import { openEmbeddedStore, type Store } from '../../src/infrastructure/persistence/embedded-store.js';
import { migrate, SchemaTooNewError } from '../../src/infrastructure/persistence/migrate.js';
import { UuidV7Generator, uuidV7Floor } from '../../src/infrastructure/system/uuid-v7.js';

/** The embedded store (PGlite in memory): group commit, optimistic concurrency, append-only events. */
describe('embedded store', () => {
  let store: Store;
  let n = 0;
  const now = Date.now();
  const newTask = (extra: { idempotencyKey?: string } = {}) =>
    submitTask({ id: `t-${++n}`, tenantId: 'acme', capability: 'work', input: { n }, ...extra }, now);

  beforeAll(async () => {
    store = await openEmbeddedStore(undefined);
    await store.tenants.create({ id: 'acme', name: 'Acme', quotas: { maxAgents: 10, maxTasksPerHour: 1000 }, createdAt: now });
  });
  afterAll(async () => store.close());

  it('commits many writes of one tick in few statements, and reads them back whole', async () => {
    const flushesBefore = store.batcher.flushes;
    const created = Array.from({ length: 50 }, () => newTask());
    await Promise.all(created.map((c) => store.tasks.insert(c.task, c.events)));
    expect(store.batcher.flushes - flushesBefore).toBeLessThanOrEqual(2);
    const back = await store.tasks.list('acme', {}, { limit: 100 });
    expect(back.items.map((t) => t.id).sort()).toEqual(created.map((c) => c.task.id).sort());
    expect(back.items.find((t) => t.id === created[0]!.task.id)!.input).toEqual(created[0]!.task.input);
  });

  it('merges writes of one task that wait for the same commit, keeping every event in order', async () => {
    const s = newTask();
    const a = assign(s.task, 'agent-1', now);
    const b = start(a.task, 'agent-1', now);
    const c = complete(b.task, 'agent-1', { done: true }, now);
    const flushesBefore = store.batcher.flushes;
    await Promise.all([store.tasks.insert(s.task, s.events), store.tasks.save(a.task, a.events), store.tasks.save(b.task, b.events), store.tasks.save(c.task, c.events)]);
    expect(store.batcher.flushes - flushesBefore).toBe(1);
    const events = await store.events.readStream('acme', 'task', s.task.id);
    expect(events.map((e) => [e.type, e.version])).toEqual([
      ['TaskSubmitted', 1],
      ['TaskAssigned', 2],
      ['TaskStarted', 3],
      ['TaskCompleted', 4],
    ]);
    const stored = (await store.db.query<{ status: string; output: unknown }>('SELECT status, output FROM tasks WHERE id = $1', [s.task.id])).rows[0];
    expect(stored).toEqual({ status: 'completed', output: { done: true } });
  });

  it('refuses a stale update and a duplicate insert without failing the rest of the batch', async () => {
    const ok = newTask();
    const stale = newTask();
    await Promise.all([store.tasks.insert(ok.task, ok.events), store.tasks.insert(stale.task, stale.events)]);
    const first = assign(stale.task, 'agent-1', now);
    await store.tasks.save(first.task, first.events);
    const okAssign = assign(ok.task, 'agent-2', now);
    // Built on version 1 while the row is at version 2.
    const staleAssign = assign(stale.task, 'agent-9', now);
    const results = await Promise.allSettled([
      store.tasks.save(okAssign.task, okAssign.events),
      store.tasks.save(staleAssign.task, staleAssign.events),
      store.tasks.insert(ok.task, ok.events),
    ]);
    expect(results[0].status).toBe('fulfilled');
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    const staleEvents = await store.events.readStream('acme', 'task', stale.task.id);
    expect(staleEvents.filter((e) => e.type === 'TaskAssigned').map((e) => e.data.agentId)).toEqual(['agent-1']);
    expect(((await store.tasks.get('acme', stale.task.id)) as Task).agentId).toBe('agent-1');
  });

  it('enforces one idempotency key per tenant in the database', async () => {
    const a = newTask({ idempotencyKey: 'same' });
    const b = newTask({ idempotencyKey: 'same' });
    const results = await Promise.allSettled([store.tasks.insert(a.task, a.events), store.tasks.insert(b.task, b.events)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await store.tasks.findByIdempotencyKey('acme', 'same'))?.id).toBe(a.task.id);
  });

  it('keeps events append-only: the database refuses UPDATE, DELETE and TRUNCATE', async () => {
    const s = newTask();
    await store.tasks.insert(s.task, s.events);
    await expect(store.db.query(`UPDATE events SET type = 'Forged' WHERE aggregate_id = $1`, [s.task.id])).rejects.toThrow(/append-only/);
    await expect(store.db.query('DELETE FROM events WHERE aggregate_id = $1', [s.task.id])).rejects.toThrow(/append-only/);
    await expect(store.db.query('TRUNCATE events')).rejects.toThrow(/append-only/);
    // The outbox mark is the one permitted change.
    await store.db.query('UPDATE events SET published_at = 1 WHERE aggregate_id = $1', [s.task.id]);
    expect((await store.events.readStream('acme', 'task', s.task.id))).toHaveLength(1);
  });

  it('counts tasks submitted since a time by UUIDv7 id range', async () => {
    await store.tenants.create({ id: 'clock', name: 'Clock', quotas: { maxAgents: 1, maxTasksPerHour: 1000 }, createdAt: now });
    const ids = new UuidV7Generator();
    const twoHoursAgo = now - 2 * 3600_000;
    const old = [1, 2].map((i) => submitTask({ id: uuidV7Floor(twoHoursAgo).replace(/0$/, String(i)), tenantId: 'clock', capability: 'work' }, twoHoursAgo));
    const recent = [1, 2, 3].map(() => submitTask({ id: ids.newId(), tenantId: 'clock', capability: 'work' }, now));
    await Promise.all([...old, ...recent].map((c) => store.tasks.insert(c.task, c.events)));
    expect(await store.tasks.countSubmittedSince('clock', now - 3600_000)).toBe(3);
    expect(await store.tasks.countSubmittedSince('clock', twoHoursAgo - 1000)).toBe(5);
    expect(await store.tasks.countSubmittedSince('clock', Date.now() + 60_000)).toBe(0);
  });

  it('refuses to run against a database migrated by a newer build', async () => {
    await expect(migrate(store.db, [])).rejects.toBeInstanceOf(SchemaTooNewError);
    expect(await migrate(store.db)).toEqual([]);
  });
});
