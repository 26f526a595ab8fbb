import { afterEach, describe, expect, it } from 'vitest';
import type { AgentProcess } from './support/agent-process.js';
import { chaosBinaries } from './support/binaries.js';
import { ChaosCluster } from './support/chaos-cluster.js';
import { expectNoCrash, expectNothingLost, expectPromptRecovery } from './support/expectations.js';
import { DEFAULT_AGENTS, runScenario, type Mesh, type Victim } from './support/scenario.js';

const TASKS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The slow agent, killed -9 while it holds leases (their task ids go to `held`), and started again under its id. */
function slowAgentVictim({ cluster, agents }: Mesh, held: string[]): Victim {
  let agent = agents.find((a) => a.id === 'slow') as AgentProcess;
  return {
    kill: async () => {
      while (agent.inFlight.size < 2) await sleep(5);
      held.push(...[...agent.inFlight].map((key) => key.split('#')[0]!));
      await agent.kill9();
    },
    restart: async () => {
      const { url: _u, apiKey: _k, capability: _c, ...options } = agent.options;
      agent = await cluster.startAgentProcess(cluster.instances[0]!, options);
    },
    note: () => `it held ${held.length} tasks`,
  };
}

/** kill -9 of an SDK agent process mid-task: its leases lapse or its heartbeat is missed, its tasks go to the others, each ends once. */
describe.skipIf(chaosBinaries === undefined)('an agent killed mid-task', () => {
  let cluster: ChaosCluster | undefined;
  afterEach(async () => cluster?.close());

  it(`loses none of ${TASKS} tasks and completes none twice`, { timeout: 180_000 }, async () => {
    cluster = await ChaosCluster.start(chaosBinaries!);
    const held: string[] = [];
    const result = await runScenario(cluster, {
      name: 'agent-killed-mid-task',
      tasks: TASKS,
      perSecond: 100,
      killAt: 300,
      downMs: 3_000,
      // A slow agent on the leader: it always holds some tasks, so the kill catches it mid-task.
      agents: [...DEFAULT_AGENTS, { on: 'a', id: 'slow', transport: 'stream', workMs: 400, maxConcurrentTasks: 8 }],
      victim: (mesh) => slowAgentVictim(mesh, held),
    });
    expectNothingLost(cluster, result, TASKS);
    expectPromptRecovery(result);
    expectNoCrash(result);
    // What the killed agent held went round again: its lease lapsed or its heartbeat was missed.
    const rerouted = await cluster.query<{ id: string }>(
      `SELECT DISTINCT aggregate_id AS id FROM events WHERE aggregate_id = ANY($1) AND (
         (type = 'TaskRetried' AND data->>'reason' IN ('lease_expired', 'agent_lost')) OR (type = 'TaskDeadLettered' AND data->'error'->>'code' IN ('lease_expired', 'agent_lost')))`,
      [held],
    );
    expect(rerouted.map((r) => r.id).sort()).toEqual([...new Set(held)].sort());
  });
});
