import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, complete, ConcurrencyError, ConflictError, pause, registerAgent, start, submitTask, terminate, withTaskAssigned, type Task } from '../../src/domain/index.js';
import type { Store } from '../../src/infrastructure/persistence/store.js';
import { WRITE_BATCH } from '../../src/infrastructure/persistence/write-batcher.js';
import { migrate, SchemaTooNewError } from '../../src/infrastructure/persistence/migrate.js';
import { UuidV7Generator, uuidV7Floor } from '../../src/infrastructure/system/uuid-v7.js';

/**
 * The store contract: group commit, optimistic concurrency, append-only events, the queries the
 * mesh runs. The embedded store (PGlite) and PostgreSQL run this same suite.
 */
export function storeContract(name: string, open: () => Promise<Store>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`store contract: ${name}`, () => {
    let store: Store;
    let n = 0;
    const now = Date.now();
    const newTask = (extra: { idempotencyKey?: string } = {}) =>
      submitTask({ id: `t-${++n}`, tenantId: 'acme', capability: 'work', input: { n }, ...extra }, now);

    beforeAll(async () => {
      store = await open();
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
      // Appended in the order they happened: the outbox relay publishes by seq.
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
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

    it('updates tasks through lookups by key in a plan kept for every run, however few tasks the table held when it was made', async () => {
      const plan = await store.db.transaction(async (tx) => {
        await tx.exec(`PREPARE write_batch_probe AS ${WRITE_BATCH.text}`);
        await tx.exec('SET LOCAL plan_cache_mode = force_generic_plan');
        const updates = JSON.stringify([{ tenant_id: 'acme', id: 't-1', status: 'assigned', version: 2, expected: 1 }]);
        const { rows } = await tx.query<Record<string, string>>(`EXPLAIN EXECUTE write_batch_probe('[]', '${updates}', '[]')`);
        await tx.exec('DEALLOCATE write_batch_probe');
        return rows.map((r) => Object.values(r)[0]).join('\n');
      });
      expect(plan).toContain('Index Scan using tasks_pkey on tasks');
      expect(plan).not.toContain('Seq Scan on tasks');
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

    it('counts tasks submitted since a time per minute, by UUIDv7 id range', async () => {
      await store.tenants.create({ id: 'clock', name: 'Clock', quotas: { maxAgents: 1, maxTasksPerHour: 1000 }, createdAt: now });
      const ids = new UuidV7Generator();
      const twoHoursAgo = now - 2 * 3600_000;
      const old = [1, 2].map((i) => submitTask({ id: uuidV7Floor(twoHoursAgo).replace(/0$/, String(i)), tenantId: 'clock', capability: 'work' }, twoHoursAgo));
      const recent = [1, 2, 3].map(() => submitTask({ id: ids.newId(), tenantId: 'clock', capability: 'work' }, now));
      await Promise.all([...old, ...recent].map((c) => store.tasks.insert(c.task, c.events)));
      const minuteOf = (t: number) => Math.floor(t / 60_000) * 60_000;
      expect(await store.tasks.submittedPerMinuteSince('clock', now - 3600_000)).toEqual([{ minute: minuteOf(now), count: 3 }]);
      expect(await store.tasks.submittedPerMinuteSince('clock', twoHoursAgo - 1000)).toEqual([
        { minute: minuteOf(twoHoursAgo), count: 2 },
        { minute: minuteOf(now), count: 3 },
      ]);
      expect(await store.tasks.submittedPerMinuteSince('clock', Date.now() + 60_000)).toEqual([]);
    });

    it('keeps agents: insert, conflict on a taken id, lifecycle save with a version check, counters, filters and pages', async () => {
      const reg = (id: string, capability: string) => registerAgent({ id, tenantId: 'acme', name: id, capabilities: [{ name: capability, proficiency: 4 }], tags: ['t'], metadata: { m: 1 } }, now);
      const a = reg('agent-a', 'sum');
      const b = reg('agent-b', 'sum');
      const c = reg('agent-c', 'translate');
      for (const r of [a, b, c]) await store.agents.insert(r.agent, r.events);
      await expect(store.agents.insert(a.agent, a.events)).rejects.toBeInstanceOf(ConflictError);

      const loaded = withTaskAssigned(a.agent, now + 1);
      await store.agents.save(loaded, []);
      const back = await store.agents.get('acme', 'agent-a');
      expect(back).toMatchObject({ id: 'agent-a', capabilities: [{ name: 'sum', proficiency: 4 }], tags: ['t'], metadata: { m: 1 }, inFlight: 1, assignedCount: 1 });

      const paused = pause(back!, now + 2);
      await store.agents.save(paused.agent, paused.events);
      await expect(store.agents.save(paused.agent, paused.events)).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await store.agents.get('acme', 'agent-a'))!.status).toBe('paused');

      expect((await store.agents.list('acme', { capability: 'sum' }, { limit: 10 })).items.map((x) => x.id)).toEqual(['agent-a', 'agent-b']);
      expect((await store.agents.list('acme', { status: 'paused' }, { limit: 10 })).items.map((x) => x.id)).toEqual(['agent-a']);
      const first = await store.agents.list('acme', {}, { limit: 2 });
      expect(first.items.map((x) => x.id)).toEqual(['agent-a', 'agent-b']);
      const second = await store.agents.list('acme', {}, { limit: 2, cursor: first.nextCursor! });
      expect(second.items.map((x) => x.id)).toEqual(['agent-c']);
      expect(second.nextCursor).toBeUndefined();

      const gone = terminate((await store.agents.get('acme', 'agent-c'))!, now + 3);
      await store.agents.save(gone.agent, gone.events);
      expect(await store.agents.countNotTerminated('acme')).toBe(2);
      expect((await store.agents.listNotTerminated()).map((x) => x.id)).toEqual(['agent-a', 'agent-b']);
      expect((await store.events.readStream('acme', 'agent', 'agent-a')).map((e) => e.type)).toEqual(['AgentRegistered', 'AgentPaused']);
    });

    it('commits counter writes in order, and drain resolves only once those queued so far are committed', async () => {
      const r = registerAgent({ id: 'agent-drained', tenantId: 'acme', name: 'drained', capabilities: [{ name: 'sum' }] }, now);
      await store.agents.insert(r.agent, r.events);
      let agent = r.agent;
      const saves: Array<Promise<void>> = [];
      for (let i = 0; i < 10; i++) {
        agent = withTaskAssigned(agent, now + i + 1);
        saves.push(store.agents.save(agent, []));
        // Each in a later turn: several flushes, some of them in flight together.
        await new Promise((resolve) => setImmediate(resolve));
      }
      let settled = 0;
      for (const save of saves) void save.then(() => settled++);
      await store.agents.drain();
      expect(settled).toBe(10);
      // The last write is what is stored: flushes commit in the order they were made.
      expect(await store.agents.get('acme', 'agent-drained')).toMatchObject({ inFlight: 10, assignedCount: 10 });
      await store.agents.drain(); // nothing queued: resolves at once
    });

    it('keeps tenants and hashed API keys; a revoked key is found as revoked and not revoked twice', async () => {
      await store.tenants.create({ id: 'keys-co', name: 'Keys Co', quotas: { maxAgents: 3, maxTasksPerHour: 50 }, createdAt: now });
      await expect(store.tenants.create({ id: 'keys-co', name: 'again', quotas: { maxAgents: 3, maxTasksPerHour: 50 }, createdAt: now })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.tenants.get('keys-co')).toMatchObject({ id: 'keys-co', name: 'Keys Co', quotas: { maxAgents: 3, maxTasksPerHour: 50 } });
      expect(await store.tenants.get('nobody')).toBeUndefined();
      expect(await store.tenants.listIds()).toEqual(expect.arrayContaining(['acme', 'keys-co']));

      await store.apiKeys.create({ id: 'k1', tenantId: 'keys-co', name: 'ci', role: 'orchestrator', platform: false, secretHash: 'h'.repeat(64), createdAt: now });
      expect(await store.apiKeys.findBySecretHash('h'.repeat(64))).toMatchObject({ id: 'k1', tenantId: 'keys-co', role: 'orchestrator', platform: false });
      expect(await store.apiKeys.revoke('acme', 'k1', now)).toBe(false);
      expect(await store.apiKeys.revoke('keys-co', 'k1', now + 5)).toBe(true);
      expect(await store.apiKeys.revoke('keys-co', 'k1', now + 6)).toBe(false);
      expect((await store.apiKeys.findBySecretHash('h'.repeat(64)))?.revokedAt).toBe(now + 5);
      expect((await store.apiKeys.list('keys-co')).map((k) => k.id)).toEqual(['k1']);
    });

    it("keeps a key's own rate limit: set, changed, cleared, never on another tenant's key or a revoked one", async () => {
      await store.tenants.create({ id: 'tiered', name: 'Tiered', quotas: { maxAgents: 3, maxTasksPerHour: 50 }, createdAt: now });
      await store.apiKeys.create({ id: 'tk1', tenantId: 'tiered', name: 'basic', role: 'observer', platform: false, secretHash: 't'.repeat(64), createdAt: now, rateLimitPerMinute: 10 });
      expect(await store.apiKeys.findBySecretHash('t'.repeat(64))).toMatchObject({ id: 'tk1', rateLimitPerMinute: 10 });
      expect(await store.apiKeys.setRateLimit('acme', 'tk1', 5)).toBe(false);
      expect(await store.apiKeys.setRateLimit('tiered', 'tk1', 10_000)).toBe(true);
      expect((await store.apiKeys.list('tiered'))[0]).toMatchObject({ rateLimitPerMinute: 10_000 });
      expect(await store.apiKeys.setRateLimit('tiered', 'tk1', undefined)).toBe(true);
      expect((await store.apiKeys.findBySecretHash('t'.repeat(64)))?.rateLimitPerMinute).toBeUndefined();
      await store.apiKeys.revoke('tiered', 'tk1', now + 1);
      expect(await store.apiKeys.setRateLimit('tiered', 'tk1', 100)).toBe(false);
    });

    it('lists active tasks oldest first and filters tasks by status, capability and agent with cursor pages', async () => {
      await store.tenants.create({ id: 'lists', name: 'Lists', quotas: { maxAgents: 3, maxTasksPerHour: 1000 }, createdAt: now });
      const ids = new UuidV7Generator();
      const made = Array.from({ length: 5 }, (_, i) => submitTask({ id: ids.newId(), tenantId: 'lists', capability: i < 3 ? 'x' : 'y', input: { i } }, now + i));
      for (const m of made) await store.tasks.insert(m.task, m.events);
      const assigned = assign(made[0]!.task, 'agent-z', now + 10);
      await store.tasks.save(assigned.task, assigned.events);

      expect((await store.tasks.list('lists', { capability: 'x' }, { limit: 10 })).items).toHaveLength(3);
      expect((await store.tasks.list('lists', { status: 'assigned' }, { limit: 10 })).items.map((t) => t.id)).toEqual([made[0]!.task.id]);
      expect((await store.tasks.list('lists', { agentId: 'agent-z' }, { limit: 10 })).items.map((t) => t.id)).toEqual([made[0]!.task.id]);
      const page1 = await store.tasks.list('lists', {}, { limit: 3 });
      const page2 = await store.tasks.list('lists', {}, { limit: 3, cursor: page1.nextCursor! });
      expect([...page1.items, ...page2.items].map((t) => t.id).sort()).toEqual(made.map((m) => m.task.id).sort());
      expect(page2.nextCursor).toBeUndefined();

      const active = (await store.tasks.listActive()).filter((t) => t.tenantId === 'lists');
      expect(active.map((t) => t.id)).toEqual(made.map((m) => m.task.id));
      const after = await store.events.readAfter(0, 100_000);
      const seqs = after.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(typeof seqs[0]).toBe('number');
    });

    it('keeps every task\'s writes in order under many concurrent lifecycles, whatever the batches in flight', async () => {
      await store.tenants.create({ id: 'busy', name: 'Busy', quotas: { maxAgents: 3, maxTasksPerHour: 100_000 }, createdAt: now });
      const ids = new UuidV7Generator();
      const done: string[] = [];
      await Promise.all(
        Array.from({ length: 32 }, async (_, worker) => {
          for (let i = 0; i < 10; i++) {
            const s = submitTask({ id: ids.newId(), tenantId: 'busy', capability: 'work', input: { worker, i } }, now);
            const inserted = store.tasks.insert(s.task, s.events);
            // Let the insert's batch start committing, so the next write must not overtake it.
            await new Promise((r) => setImmediate(r));
            await new Promise((r) => setImmediate(r));
            const a = assign(s.task, `agent-${worker % 3}`, now);
            // The start goes without waiting, as the mesh does once a task is delivered: it must merge or follow, never overtake.
            void store.tasks.save(a.task, a.events);
            const b = start(a.task, a.task.agentId!, now);
            const started = store.tasks.save(b.task, b.events);
            const c = complete(b.task, b.task.agentId!, { worker, i }, now);
            await Promise.all([inserted, started, store.tasks.save(c.task, c.events)]);
            done.push(s.task.id);
          }
        }),
      );
      expect(done).toHaveLength(320);
      for (const id of done.slice(0, 40)) {
        const events = await store.events.readStream('busy', 'task', id);
        expect(events.map((e) => e.type)).toEqual(['TaskSubmitted', 'TaskAssigned', 'TaskStarted', 'TaskCompleted']);
      }
      const { rows } = await store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks WHERE tenant_id = 'busy' AND status = 'completed'`);
      expect(rows[0]!.n).toBe(320);
    });

    it('keeps events in the outbox until a relay turn publishes them, in commit order, and keeps them when publishing fails', async () => {
      // Drain what earlier tests left, so this test sees only its own events.
      while ((await store.outbox.relay(1000, async () => {})) > 0);
      expect(await store.outbox.pendingCount()).toBe(0);
      const s = newTask();
      await store.tasks.insert(s.task, s.events);
      const a = assign(s.task, 'agent-1', now);
      await store.tasks.save(a.task, a.events);
      expect(await store.outbox.pendingCount()).toBe(2);

      await expect(store.outbox.relay(10, async () => Promise.reject(new Error('broker down')))).rejects.toThrow('broker down');
      expect(await store.outbox.pendingCount()).toBe(2);

      const published: string[] = [];
      expect(await store.outbox.relay(10, async (events) => void published.push(...events.map((e) => `${e.aggregateId}:${e.type}:${e.version}`)))).toBe(2);
      expect(published).toEqual([`${s.task.id}:TaskSubmitted:1`, `${s.task.id}:TaskAssigned:2`]);
      expect(await store.outbox.pendingCount()).toBe(0);
      expect(await store.outbox.relay(10, async () => {})).toBe(0);
    });

    it('refuses to run against a database migrated by a newer build', async () => {
      await expect(migrate(store.db, [])).rejects.toBeInstanceOf(SchemaTooNewError);
      expect(await migrate(store.db)).toEqual([]);
    });
  });
}
