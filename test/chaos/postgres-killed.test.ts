import { afterEach, describe, it } from 'vitest';
import { chaosBinaries } from './support/binaries.js';
import { ChaosCluster } from './support/chaos-cluster.js';
import { expectNoCrash, expectNothingLost, expectPromptRecovery } from './support/expectations.js';
import { runScenario, serverVictim } from './support/scenario.js';

const TASKS = 1000;

/**
 * kill -9 of PostgreSQL (every process of it) under load, restarted 3 s later on the same data:
 * crash recovery, the pools reconnect, a leader is elected again, every task ends once.
 */
describe.skipIf(chaosBinaries === undefined)('PostgreSQL killed mid-load', () => {
  let cluster: ChaosCluster | undefined;
  afterEach(async () => cluster?.close());

  it(`loses none of ${TASKS} tasks and completes none twice`, { timeout: 180_000 }, async () => {
    cluster = await ChaosCluster.start(chaosBinaries!);
    const result = await runScenario(cluster, {
      name: 'postgres-killed',
      tasks: TASKS,
      perSecond: 100,
      killAt: 300,
      downMs: 3_000,
      victim: ({ cluster }) => serverVictim(cluster.services.postgres),
    });
    expectNothingLost(cluster, result, TASKS);
    expectPromptRecovery(result);
    // Only the leader may exit, by design (its lock connection dropped); followers ride the outage out.
    expectNoCrash(result, { leaderMayAbdicate: true });
  });
});
