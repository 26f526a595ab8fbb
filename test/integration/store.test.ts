import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, complete, start, submitTask } from '../../src/domain/index.js';
import { openEmbeddedStore, type Store } from '../../src/infrastructure/persistence/embedded-store.js';
import { storeContract } from '../contracts/store.contract.js';

storeContract('embedded (PGlite in memory)', () => openEmbeddedStore(undefined, { relayEvents: true }));

describe('embedded store: the task write batch', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openEmbeddedStore(undefined);
    await store.tenants.create({ id: 'acme', name: 'Acme', quotas: { maxAgents: 10, maxTasksPerHour: 1000 }, createdAt: 0 });
  });
  afterAll(async () => store.close());

  it('is planned once and then run on that plan, not planned again at every run', async () => {
    // Tasks already there when the statement is first planned (a restart on a used data directory).
    await store.db.query(`INSERT INTO tasks (tenant_id, id, capability, status, priority, created_at, updated_at, version, input, doc)
      SELECT 'acme', 'old-' || g, 'work', 'completed', 5, 0, 0, 4, 'null', '{}' FROM generate_series(1, 5000) AS g`);
    for (let i = 0; i < 12; i++) {
      const s = submitTask({ id: `plan-${i}`, tenantId: 'acme', capability: 'work', input: { i } }, 0);
      await store.tasks.insert(s.task, s.events);
      const a = assign(s.task, 'agent-1', 0);
      await store.tasks.save(a.task, a.events);
      const b = start(a.task, 'agent-1', 0);
      await store.tasks.save(b.task, b.events);
      const c = complete(b.task, 'agent-1', { i }, 0);
      await store.tasks.save(c.task, c.events);
    }
    const { rows } = await store.db.query<{ generic_plans: number; custom_plans: number }>(
      `SELECT generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE name = 'task_write_batch'`,
    );
    // PostgreSQL plans the first five runs for their parameters, then keeps a plan for all of them.
    expect(rows[0]!.custom_plans).toBeLessThanOrEqual(5);
    expect(rows[0]!.generic_plans).toBeGreaterThanOrEqual(43);
  });
});
