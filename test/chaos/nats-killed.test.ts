import { afterEach, describe, it } from 'vitest';
import { chaosBinaries } from './support/binaries.js';
import { ChaosCluster } from './support/chaos-cluster.js';
import { expectNoCrash, expectNothingLost, expectPromptRecovery } from './support/expectations.js';
import { runScenario, serverVictim } from './support/scenario.js';

const TASKS = 1000;

/** kill -9 of NATS JetStream under load (its streams on disk), restarted 3 s later: every task ends once. */
describe.skipIf(chaosBinaries === undefined)('NATS killed mid-load', () => {
  let cluster: ChaosCluster | undefined;
  afterEach(async () => cluster?.close());

  it(`loses none of ${TASKS} tasks and completes none twice`, { timeout: 180_000 }, async () => {
    cluster = await ChaosCluster.start(chaosBinaries!);
    const result = await runScenario(cluster, {
      name: 'nats-killed',
      tasks: TASKS,
      perSecond: 100,
      killAt: 300,
      downMs: 3_000,
      victim: ({ cluster }) => serverVictim(cluster.services.nats),
    });
    expectNothingLost(cluster, result, TASKS);
    expectPromptRecovery(result);
    // NATS carries assignments and commands, not state: no instance has to die for its outage.
    expectNoCrash(result);
  });
});
