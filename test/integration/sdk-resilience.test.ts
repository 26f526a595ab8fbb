import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, AgentMeshClient, type Task } from '../../src/sdk/index.js';
import { eventually, startHarness, type Harness } from '../support/mesh-harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const WAVES = 5;
const PER_WAVE = 20;
const TASKS = WAVES * PER_WAVE;
const RETRY = { initialDelayMs: 20, maxDelayMs: 250, maxAttempts: 10 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The SDK between a real mesh and its agents and client, through a TCP proxy that cuts every
 * connection again and again (and refuses new ones for a moment): streams and long polls
 * reconnect, submits and completions are retried, and every task completes exactly once.
 */
describe('SDK through a connection that keeps breaking', () => {
  let h: Harness;
  let proxy: TcpProxy;

  beforeAll(async () => {
    h = await startHarness({
      AGENTMESH_DEFAULT_LEASE_MS: '3000',
      AGENTMESH_SWEEP_INTERVAL_MS: '200',
      AGENTMESH_MAX_ATTEMPTS: '50',
      AGENTMESH_RETRY_BASE_MS: '10',
      AGENTMESH_RETRY_CAP_MS: '50',
      // A task pushed into a stream just before it is cut never reaches the agent: its lease lapses
      // and it goes round again. The mesh's per-agent breakers would count those lapses against
      // the agents and take them out of routing; this test is about the SDK, so they are off.
      AGENTMESH_AGENT_BREAKER_FAILURES: '0',
    });
    const { hostname, port } = new URL(h.url);
    proxy = await TcpProxy.start(hostname, Number(port));
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await h?.close();
  });

  it('every task completes exactly once, and no submit makes two tasks', { timeout: 180_000 }, async () => {
    const url = `http://127.0.0.1:${proxy.port}`;
    const errors: unknown[] = [];
    let runs = 0;
    const agents = await Promise.all(
      (['stream', 'stream', 'poll'] as const).map((transport, i) =>
        new Agent({ url, apiKey: h.adminKey, id: `flaky-${i}`, name: `flaky ${transport}`, capabilities: ['flaky'], transport, maxConcurrentTasks: 4, heartbeatIntervalMs: 500, retry: RETRY, onError: (e) => errors.push(e) })
          .handle('flaky', async (input: { n: number }) => {
            runs++;
            await sleep(5 + (input.n % 20));
            return { n: input.n };
          })
          .start(),
      ),
    );
    // The submitter's keys make a submit whose answer was cut safe to send again.
    const client = new AgentMeshClient({ url, apiKey: h.adminKey, retry: RETRY, idempotencyKeys: true });

    let cuts = 0;
    const cut = async () => {
      await proxy.cut();
      cuts++;
      await sleep(20 + Math.random() * 30);
      await proxy.restore();
    };
    let chaos = true;
    let breaking: Promise<void> = Promise.resolve();

    try {
      // Each wave of submits is cut while on its way (and so are the streams, polls and completions of the waves before).
      const ids: string[] = [];
      for (let wave = 0; wave < WAVES; wave++) {
        const submits = Promise.all(Array.from({ length: PER_WAVE }, (_, i) => client.submit('flaky', { n: wave * PER_WAVE + i })));
        await sleep(Math.random() * 30);
        await cut();
        ids.push(...(await submits).map((r) => r.id));
        await sleep(100);
      }
      expect(new Set(ids).size).toBe(TASKS);
      // Then more cuts, now and then, until the work is done (not so often that a request slowed by
      // a loaded machine can never finish between two of them).
      breaking = (async () => {
        while (chaos) {
          await sleep(1000 + Math.random() * 1000);
          if (chaos) await cut();
        }
      })();

      // Completion is checked on the mesh directly, not through the proxy.
      await eventually(async () => (await Promise.all(ids.map((id) => h.admin.get(id)))).every((t) => t.status === 'completed'), 120_000, `all ${TASKS} tasks to complete`).catch(
        async (error: Error) => {
          const statuses: Record<string, number> = {};
          for (const t of await Promise.all(ids.map((id) => h.admin.get(id)))) statuses[t.status] = (statuses[t.status] ?? 0) + 1;
          throw new Error(`${error.message}: ${JSON.stringify({ statuses, runs, cuts, completed: agents.map((a) => a.completed), fatal: agents.map((a) => String(a.fatalError)) })}`);
        },
      );
      chaos = false;
      await breaking;

      expect(cuts).toBeGreaterThanOrEqual(WAVES);
      // Broken connections were met (and handled by the SDK: reconnects, retries).
      expect(errors.length).toBeGreaterThan(0);
      expect(agents.map((a) => a.fatalError)).toEqual([undefined, undefined, undefined]);

      for (const id of ids) {
        const types = (await h.running.store.events.readStream('default', 'task', id)).map((e) => e.type);
        expect(types.filter((t) => t === 'TaskCompleted'), `task ${id}: ${types.join(', ')}`).toHaveLength(1);
      }
      const tasks: Task[] = [];
      let cursor: string | undefined;
      do {
        const page = await h.admin.list({ capability: 'flaky', limit: 500, ...(cursor !== undefined && { cursor }) });
        tasks.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(tasks).toHaveLength(TASKS);
      expect(tasks.map((t) => (t.output as { n: number }).n).sort((a, b) => a - b)).toEqual(Array.from({ length: TASKS }, (_, i) => i));
      // Each completion the mesh confirmed was counted once, by the agent that made it. (One whose
      // every answer was cut is applied but not counted: the agent never heard of it.)
      const counted = agents.reduce((sum, a) => sum + a.completed, 0);
      expect(counted).toBeLessThanOrEqual(TASKS);
      expect(counted).toBeGreaterThan(TASKS / 2);
    } finally {
      chaos = false;
      await breaking;
      await Promise.all(agents.map((a) => a.stop({ graceMs: 1000 })));
    }
  });
});
