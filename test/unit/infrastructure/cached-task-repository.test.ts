import { describe, expect, it } from 'vitest';
import type { TaskRepository } from '../../../src/application/ports.js';
import { assign, complete, start, submitTask, type DomainEvent, type Task } from '../../../src/domain/index.js';
import { CachedTaskRepository } from '../../../src/infrastructure/persistence/cached-task-repository.js';

/** A store whose commits the test releases or fails by hand. */
function heldStore() {
  const rows = new Map<string, Task>();
  const held: Array<{ task: Task; resolve: () => void; reject: (e: Error) => void }> = [];
  const write = (task: Task) =>
    new Promise<void>((resolve, reject) => {
      held.push({ task, resolve: () => (rows.set(task.id, task), resolve()), reject });
    });
  const inner = {
    insert: (task: Task, _events: DomainEvent[]) => write(task),
    save: (task: Task, _events: DomainEvent[]) => write(task),
    get: async (_tenantId: string, id: string) => rows.get(id),
    getCommitted: async (_tenantId: string, id: string) => rows.get(id),
  } as unknown as TaskRepository;
  return { inner, held };
}

describe('CachedTaskRepository', () => {
  const now = 1_000;
  const submitted = submitTask({ id: 't1', tenantId: 'acme', capability: 'work', input: 1 }, now);

  it('shows a pending change to the mesh at once, but to readers only once it commits', async () => {
    const { inner, held } = heldStore();
    const repo = new CachedTaskRepository(inner);
    const inserting = repo.insert(submitted.task, submitted.events);
    expect(await repo.getCommitted('acme', 't1')).toBeUndefined();
    held.shift()!.resolve();
    await inserting;

    const a = assign(submitted.task, 'agent-1', now);
    const b = start(a.task, 'agent-1', now);
    const c = complete(b.task, 'agent-1', 'out', now);
    const writes = [repo.save(a.task, a.events), repo.save(b.task, b.events), repo.save(c.task, c.events)];
    expect((await repo.get('acme', 't1'))!.status).toBe('completed');
    expect((await repo.getCommitted('acme', 't1'))!.status).toBe('queued');
    held.shift()!.resolve();
    held.shift()!.resolve();
    // Still one write in flight: readers keep the state before all of them, never a half-way one.
    expect((await repo.getCommitted('acme', 't1'))!.status).toBe('queued');
    held.shift()!.resolve();
    await Promise.all(writes);
    expect((await repo.getCommitted('acme', 't1'))!.status).toBe('completed');
  });

  it('never lets a reader see a change whose commit failed', async () => {
    const { inner, held } = heldStore();
    const repo = new CachedTaskRepository(inner);
    const inserting = repo.insert(submitted.task, submitted.events);
    held.shift()!.resolve();
    await inserting;
    const a = assign(submitted.task, 'agent-1', now);
    const saving = repo.save(a.task, a.events);
    expect((await repo.getCommitted('acme', 't1'))!.status).toBe('queued');
    held.shift()!.reject(new Error('store down'));
    await expect(saving).rejects.toThrow('store down');
    expect((await repo.getCommitted('acme', 't1'))!.status).toBe('queued');
    expect((await repo.get('acme', 't1'))!.status).toBe('queued');
  });
});
