import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentMeshClient, AgentMeshError } from '../../src/sdk/index.js';
import { eventually, startHarness, type Harness } from '../support/mesh-harness.js';
import { spawnServe } from '../support/serve-process.js';

/** Tasks and queues live in the embedded database on disk: a restart loses none of them. */
describe('restart', () => {
  let h: Harness | undefined;
  afterAll(async () => h?.close());

  it('finishes queued and leased tasks after the process restarts', async () => {
    h = await startHarness();
    const agent = await h.admin.registerAgent({ id: 'survivor', name: 'survivor', capabilities: [{ name: 'work' }], maxConcurrentTasks: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await h.admin.submit('work', { i }, { leaseMs: 60_000 })).id);
    const running = [await h.admin.nextTask(agent.id, 2000), await h.admin.nextTask(agent.id, 2000)];
    expect(running.map((t) => t?.id)).toEqual(ids.slice(0, 2));
    const assignedBefore = (await h.admin.getAgent(agent.id)).assignedCount;
    const quota = await h.admin.http.json<{ apiKey: { key: string } }>('POST', '/v1/tenants', { body: { id: 'capped', quotas: { maxTasksPerHour: 2 } } });
    const capped = new AgentMeshClient({ url: h.url, apiKey: quota.apiKey.key });
    await capped.submit('work', 1);
    await capped.submit('work', 2);
    // As if submitted 50 minutes ago: they leave the hour 10 minutes from now, restart or not.
    await h.running.store.db.query("UPDATE tasks SET created_at = created_at - 3000000 WHERE tenant_id = 'capped'");
    const dataDir = h.dataDir;
    await h.stop();

    h = await startHarness({}, dataDir);
    const counter = h.running.mesh.submitCounter;
    expect(counter.lastHour('capped', Date.now())).toBe(2);
    expect(counter.lastHour('capped', Date.now() + 12 * 60_000)).toBe(0);
    // Restored leases are load, not new assignments; the hourly quota remembers the last hour.
    expect((await h.admin.getAgent(agent.id)).assignedCount).toBe(assignedBefore);
    const third = await new AgentMeshClient({ url: h.url, apiKey: quota.apiKey.key }).submit('work', 3).catch((e: AgentMeshError) => e);
    expect((third as AgentMeshError).status).toBe(429);
    const statuses = await Promise.all(ids.map(async (id) => (await h!.admin.get(id)).status));
    expect(statuses.slice(0, 2)).toEqual(['running', 'running']);
    expect(statuses.slice(2)).toEqual(['queued', 'queued', 'queued', 'queued']);
    // The agent still holds its leases across the restart and completes them.
    for (const t of running) await h.admin.complete(t!.id, agent.id, { after: 'restart' });
    // The queued ones flow to it as its slots free up.
    await eventually(async () => {
      const next = await h!.admin.nextTask(agent.id, 200);
      if (next) await h!.admin.complete(next.id, agent.id, { after: 'restart' });
      const all = await Promise.all(ids.map(async (id) => (await h!.admin.get(id)).status));
      return all.every((s) => s === 'completed');
    }, 15_000, 'all tasks completed after restart');
    const agentAfter = await h.admin.getAgent(agent.id);
    expect(agentAfter.inFlight).toBeLessThanOrEqual(2);
    const events = await h.running.store.events.readStream('default', 'task', ids[0]!);
    expect(events.map((e) => e.type)).toEqual(['TaskSubmitted', 'TaskAssigned', 'TaskStarted', 'TaskCompleted']);
  }, 60_000);

  it('re-delivers a task that was assigned but not yet delivered when the process stopped', async () => {
    const dataDir = h!.dataDir;
    await h!.stop();
    h = await startHarness({}, dataDir);
    const agent = await h.admin.registerAgent({ id: 'late-joiner', name: 'late', capabilities: [{ name: 'other' }] });
    const { id } = await h.admin.submit('other', null, { leaseMs: 60_000 });
    // Assigned (inbox message published) but the agent never polled before the stop.
    await eventually(async () => (await h!.admin.get(id)).status === 'assigned', 5000, 'assignment');
    await h.stop();
    h = await startHarness({}, dataDir);
    const delivered = await h.admin.nextTask(agent.id, 3000);
    expect(delivered).toMatchObject({ id, attempt: 1 });
  }, 60_000);

  it('keeps every task it acknowledged when its process is killed (SIGKILL) right after answering', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentmesh-killed-'));
    const env = { AGENTMESH_DATA_DIR: dir, AGENTMESH_ADMIN_KEY: 'killed-admin-key-0123456789' };
    try {
      const first = await spawnServe(env, 60_000);
      const client = new AgentMeshClient({ url: first.url, apiKey: env.AGENTMESH_ADMIN_KEY });
      // Acknowledged (202) one at a time and all at once, then killed with no chance to flush anything.
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await client.submit('durable', { i })).id);
      ids.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => client.submit('durable', { i: i + 5 })))).map((t) => t.id));
      first.kill('SIGKILL');
      expect(await first.exited).toBeNull();
      const second = await spawnServe(env, 60_000);
      try {
        const after = new AgentMeshClient({ url: second.url, apiKey: env.AGENTMESH_ADMIN_KEY });
        const found = await Promise.all(ids.map((id) => after.get(id)));
        expect(found.map((t) => t.status)).toEqual(ids.map(() => 'queued'));
        expect(found.map((t) => (t.input as { i: number }).i)).toEqual(ids.map((_, i) => i));
      } finally {
        second.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
