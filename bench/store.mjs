// The store alone: how many task lifecycles (insert + 3 updates, 4 events) per second through group commit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedStore } from '../dist/infrastructure/persistence/embedded-store.js';
import { openPostgresStore } from '../dist/infrastructure/persistence/postgres-store.js';
import { withScratchDatabase } from './postgres-scratch.mjs';
import { submitTask, assign, start, complete } from '../dist/domain/index.js';

export async function measureStore({ tasks = 5000, concurrency = 64, inMemory = false, postgresUrl } = {}) {
  const dir = inMemory || postgresUrl ? undefined : mkdtempSync(join(tmpdir(), 'agentmesh-store-'));
  const store = postgresUrl ? await openPostgresStore(postgresUrl) : await openEmbeddedStore(dir);
  await store.tenants.create({ id: 't1', name: 't1', quotas: { maxAgents: 10, maxTasksPerHour: 1e9 }, createdAt: 0 });
  let next = 0;
  const begin = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < tasks) {
      const i = next++;
      let now = Date.now();
      const s = submitTask({ id: `task-${i}`, tenantId: 't1', capability: 'work', input: { text: `document ${i}: the quick brown fox` } }, now);
      await store.tasks.insert(s.task, s.events);
      const a = assign(s.task, 'agent-1', now);
      await store.tasks.save(a.task, a.events);
      const b = start(a.task, 'agent-1', now);
      await store.tasks.save(b.task, b.events);
      const c = complete(b.task, 'agent-1', { ok: true }, now);
      await store.tasks.save(c.task, c.events);
    }
  }));
  const seconds = (performance.now() - begin) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const result = { tasks, lifecyclesPerSecond: tasks / seconds, cpuMicrosPerLifecycle: (cpu.user + cpu.system) / tasks, writesPerCommit: store.batcher.written / store.batcher.flushes };
  await store.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('disk  ', await measureStore({}));
  console.log('memory', await measureStore({ inMemory: true }));
  await withScratchDatabase(async (url) => console.log('postgres', await measureStore({ postgresUrl: url })));
}
