import { afterEach, describe, it } from 'vitest';
import { chaosBinaries } from './support/binaries.js';
import { ChaosCluster } from './support/chaos-cluster.js';
import { expectNoCrash, expectNothingLost, expectPromptRecovery } from './support/expectations.js';
import { runScenario, serverVictim } from './support/scenario.js';

const TASKS = 1000;

/** kill -9 of Redis under load, restarted empty 3 s later: the mesh degrades meanwhile and every task ends once. */
describe.skipIf(chaosBinaries === undefined)('Redis killed mid-load', () => {
  let cluster: ChaosCluster | undefined;
  afterEach(async () => cluster?.close());

  it(`loses none of ${TASKS} tasks and completes none twice`, { timeout: 180_000 }, async () => {
    cluster = await ChaosCluster.start(chaosBinaries!);
    const result = await runScenario(cluster, {
      name: 'redis-killed',
      tasks: TASKS,
      perSecond: 100,
      killAt: 300,
      downMs: 3_000,
      victim: ({ cluster }) => serverVictim(cluster.services.redis),
    });
    expectNothingLost(cluster, result, TASKS);
    expectPromptRecovery(result);
    // Redis holds nothing the mesh cannot do without (docs/deployment.md): no instance has to die for its outage.
    expectNoCrash(result);
  });
});
