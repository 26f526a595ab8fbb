import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../support/mesh-harness.js';
import { Cluster, clusterServicesMissing, STRATEGIES } from './cluster-support.js';

const TASKS = 5_000;

/** Two `agentmesh serve` processes on one PostgreSQL and one NATS: one mesh. */
describe.skipIf(clusterServicesMissing)('many instances as one mesh', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => cluster?.close());

  it(`completes ${TASKS} tasks submitted across two instances exactly once, round robin spreading over the agents of both`, { timeout: 180_000 }, async () => {
    cluster = await Cluster.create();
    const a = await cluster.startInstance();
    const b = await cluster.startInstance();
    await cluster.startAgent(a, 'a-stream', { transport: 'stream' });
    await cluster.startAgent(a, 'a-poll', { transport: 'poll' });
    await cluster.startAgent(b, 'b-stream', { transport: 'stream' });
    await cluster.startAgent(b, 'b-poll', { transport: 'poll' });

    const clients = [cluster.client(a), cluster.client(b)];
    const strategyOf = new Map<string, string>();
    for (let from = 0; from < TASKS; from += 500) {
      const ids = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          const n = from + i;
          const strategy = STRATEGIES[n % STRATEGIES.length]!;
          const { id } = await clients[n % 2]!.submit('work', { n }, { priority: n % 10, routing: { strategy, ...(strategy === 'affinity' && { affinityKey: `key-${n % 40}` }) } });
          return [id, strategy] as const;
        }),
      );
      for (const [id, strategy] of ids) strategyOf.set(id, strategy);
    }
    expect(strategyOf.size).toBe(TASKS);

    // Waits in this process until every task has reached a handler, then asks the database: a poll of the database
    // (a new connection, so a new PostgreSQL backend, every 10 ms) all along took CPU from the mesh under test.
    await eventually(() => cluster!.runs.size === TASKS, 150_000, `all ${TASKS} tasks to reach an agent`);
    await eventually(
      async () => Number((await cluster!.query<{ n: string }>("SELECT count(*) AS n FROM tasks WHERE status = 'completed'"))[0]!.n) === TASKS,
      30_000,
      `all ${TASKS} tasks to complete`,
    );
    const notCompleted = await cluster.query("SELECT id, status FROM tasks WHERE status <> 'completed'");
    expect(notCompleted).toEqual([]);
    const completions = await cluster.query<{ id: string; n: number }>(
      "SELECT aggregate_id AS id, count(*)::int AS n FROM events WHERE type = 'TaskCompleted' GROUP BY aggregate_id",
    );
    expect(completions).toHaveLength(TASKS);
    expect(completions.filter((c) => c.n !== 1)).toEqual([]);
    // Nothing failed, so nothing ran twice.
    expect(cluster.runs.size).toBe(TASKS);
    expect([...cluster.runs.values()].filter((agents) => agents.length !== 1)).toEqual([]);

    const roundRobinBy = new Map<string, number>();
    for (const [id, agents] of cluster.runs) if (strategyOf.get(id) === 'round_robin') roundRobinBy.set(agents[0]!, (roundRobinBy.get(agents[0]!) ?? 0) + 1);
    expect([...roundRobinBy.keys()].sort()).toEqual(['a-poll', 'a-stream', 'b-poll', 'b-stream']);
    for (const count of roundRobinBy.values()) expect(count).toBeGreaterThan(TASKS / STRATEGIES.length / 4 / 3);
  });
});
