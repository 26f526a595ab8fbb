import { ADMIN_KEY } from '../../support/mesh-harness.js';
import type { ServeProcess } from '../../support/serve-process.js';
import type { AgentProcess } from './agent-process.js';
import type { ChaosCluster, InstanceExit } from './chaos-cluster.js';
import { verbose, watchProgress } from './progress.js';
import type { ManagedServer } from './managed-server.js';
import { SteadyLoad } from './steady-load.js';
import { tally, waitSettled, type Tally } from './tally.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The one thing a chaos test kills -9 and brings back (or slows down and heals). */
export interface Victim {
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Said in the report line (e.g. how many leases an agent held when it died). */
  note?(): string;
}

export interface Mesh {
  cluster: ChaosCluster;
  a: ServeProcess;
  b: ServeProcess;
  agents: AgentProcess[];
}

export interface AgentSpec {
  on: 'a' | 'b';
  id: string;
  transport: 'stream' | 'poll';
  workMs: number;
  maxConcurrentTasks: number;
}

/** Two agents on each instance, one streaming and one polling. */
export const DEFAULT_AGENTS: AgentSpec[] = [
  { on: 'a', id: 'a-stream', transport: 'stream', workMs: 20, maxConcurrentTasks: 8 },
  { on: 'a', id: 'a-poll', transport: 'poll', workMs: 20, maxConcurrentTasks: 8 },
  { on: 'b', id: 'b-stream', transport: 'stream', workMs: 20, maxConcurrentTasks: 8 },
  { on: 'b', id: 'b-poll', transport: 'poll', workMs: 20, maxConcurrentTasks: 8 },
];

export interface ScenarioOptions {
  name: string;
  tasks: number;
  perSecond: number;
  /** Kill once this many tasks were acknowledged. */
  killAt: number;
  /** How long the victim stays dead before it is restarted. */
  downMs: number;
  victim: (mesh: Mesh) => Victim;
  agents?: AgentSpec[];
  doomedEvery?: number;
  settleTimeoutMs?: number;
}

export interface ScenarioResult {
  tally: Tally;
  /** From the kill to the victim answering again. */
  downtimeMs: number;
  /** From the kill on, the longest time no task ended while some were open (sampled every second). */
  stallMs: number;
  exits: InstanceExit[];
  load: SteadyLoad;
  /** Why the load could not submit every task, if it could not. */
  loadError: Error | undefined;
  settled: boolean;
  seconds: number;
}

/** A victim that is one of the cluster's own servers (PostgreSQL, NATS, Redis). */
export function serverVictim(server: ManagedServer): Victim {
  return { kill: () => server.kill9(), restart: () => server.start() };
}

/**
 * Two instances (the first leads), agents in processes of their own, a steady load over both
 * instances; one thing killed -9 mid-load and restarted; then every task waited for and counted
 * from the database. Prints one line of figures.
 */
export async function runScenario(cluster: ChaosCluster, o: ScenarioOptions): Promise<ScenarioResult> {
  const began = Date.now();
  const a = await cluster.startInstance();
  const b = await cluster.startInstance();
  const agents = await Promise.all((o.agents ?? DEFAULT_AGENTS).map(({ on, ...spec }) => cluster.startAgentProcess(on === 'a' ? a : b, spec)));
  const mesh = { cluster, a, b, agents };
  const victim = o.victim(mesh);
  const load = SteadyLoad.start({ urls: [a.url, b.url], apiKey: ADMIN_KEY, tasks: o.tasks, perSecond: o.perSecond, doomedEvery: o.doomedEvery ?? 100 });

  const progress = watchProgress(cluster, began);
  let killedAt: number;
  let downtimeMs: number;
  let loadError: Error | undefined;
  let settled: boolean;
  let counted: Tally;
  try {
    await load.reached(o.killAt);
    killedAt = Date.now();
    await victim.kill();
    await sleep(o.downMs);
    await victim.restart();
    downtimeMs = Date.now() - killedAt;
    if (verbose) console.log(`chaos ${o.name}: killed at ${((killedAt - began) / 1000).toFixed(1)} s, back at ${((Date.now() - began) / 1000).toFixed(1)} s`);
    loadError = await load.finished().then(() => undefined, (error: Error) => error);
    settled = await waitSettled(cluster, load.submitted.size, o.settleTimeoutMs ?? 60_000);
    counted = await tally(cluster, load.submitted, load.doomed);
  } finally {
    progress.stop();
  }
  const stallMs = progress.longestStallMs(killedAt);
  if (verbose) {
    console.log(cluster.output(200));
    for (const agent of cluster.agentProcesses) console.log(`agent ${agent.id} (pid ${agent.pid}): errors ${JSON.stringify(Object.fromEntries(agent.errors))}`);
  }
  const seconds = (Date.now() - began) / 1000;
  const retried = [...load.retries].map(([why, n]) => `${n} ${why}`).join(', ') || 'none';
  console.log(
    `chaos ${o.name}: submitted ${counted.submitted}, completed ${counted.completed}, dead-lettered ${counted.deadLettered}, lost ${counted.lost}, twice ${counted.twice}, ` +
      `downtime ${(downtimeMs / 1000).toFixed(1)} s${victim.note ? ` (${victim.note()})` : ''}; longest stall ${(stallMs / 1000).toFixed(1)} s; instance exits ${cluster.exits.length}, submits retried: ${retried} (hung ${load.hung}), ` +
      `tasks run more than once ${counted.rerun}; ${seconds.toFixed(1)} s in all`,
  );
  return { tally: counted, downtimeMs, stallMs, exits: cluster.exits, load, loadError, settled, seconds };
}
