import { Cluster } from '../../integration/cluster/cluster-support.js';
import { ADMIN_KEY } from '../../support/mesh-harness.js';
import type { ServeProcess } from '../../support/serve-process.js';
import { AgentProcess, type AgentProcessOptions } from './agent-process.js';
import type { ChaosBinaries } from './binaries.js';
import { lastWords, quiet, type InstanceExit } from './instance-exits.js';
import { orphanGuard } from './orphan-guard.js';
import { ChaosServices } from './services.js';

export type { InstanceExit } from './instance-exits.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fast re-routing (short leases, quick heartbeat timeouts, short retry backoff), attempts enough
 * that nothing dead-letters for lack of them, and one master key for every instance (as a mesh of
 * many needs; each would make its own otherwise, and none could read what another sealed).
 */
export const CHAOS_ENV = {
  AGENTMESH_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
  AGENTMESH_DEFAULT_LEASE_MS: '2000',
  AGENTMESH_HEARTBEAT_TIMEOUT_MS: '3000',
  AGENTMESH_MAX_ATTEMPTS: '20',
  AGENTMESH_RETRY_BASE_MS: '50',
  AGENTMESH_RETRY_CAP_MS: '500',
};

/**
 * A Cluster (`agentmesh serve` processes) on PostgreSQL, NATS and Redis of its own (ChaosServices),
 * with agents in child processes. It plays the orchestrator: an instance that exits unbidden is
 * recorded in `exits` and started again on the same port (its agents and clients reconnect there).
 */
export class ChaosCluster extends Cluster {
  readonly exits: InstanceExit[] = [];
  readonly agentProcesses: AgentProcess[] = [];
  /** Instances killed on purpose (not restarted by the orchestrator). */
  private readonly killed = new Set<ServeProcess>();
  /** The live process on each port. */
  private readonly current = new Map<string, ServeProcess>();
  private closing = false;
  private readonly restarting = new Set<Promise<void>>();

  private constructor(
    readonly services: ChaosServices,
    env: Record<string, string>,
  ) {
    super({ url: services.postgres.url(), name: 'postgres', drop: async () => {} }, { ...CHAOS_ENV, ...services.env(), ...env });
  }

  /** `env`: settings over CHAOS_ENV and the services' URLs, or made from the started services (e.g. a proxy's URL in front of one). */
  static async start(binaries: ChaosBinaries, env: Record<string, string> | ((services: ChaosServices) => Promise<Record<string, string>>) = {}): Promise<ChaosCluster> {
    const services = await ChaosServices.start(binaries);
    try {
      return new ChaosCluster(services, typeof env === 'function' ? await env(services) : env);
    } catch (error) {
      await services.dispose();
      throw error;
    }
  }

  override async startInstance(env: Record<string, string> = {}): Promise<ServeProcess> {
    const instance = await super.startInstance(env);
    orphanGuard.watch(instance.pid);
    const port = new URL(instance.url).port;
    this.current.set(port, instance);
    void instance.exited.then((code) => {
      orphanGuard.unwatch(instance.pid);
      // Caught from the output stream as they came: a flood of errors soon pushes them out of output().
      const restart = this.onExit(instance, port, code, [...instance.fatal]);
      this.restarting.add(restart);
      void restart.finally(() => this.restarting.delete(restart));
    });
    return instance;
  }

  /** The live process serving where `instance` served (itself, or what replaced it). */
  live(instance: ServeProcess): ServeProcess {
    return this.current.get(new URL(instance.url).port) ?? instance;
  }

  /** kill -9 of an instance; it stays down until restartInstance. */
  async kill9Instance(instance: ServeProcess): Promise<void> {
    const live = this.live(instance);
    this.killed.add(live);
    live.kill('SIGKILL');
    await live.exited;
  }

  /** Starts an instance again on the port it had. */
  restartInstance(instance: ServeProcess): Promise<ServeProcess> {
    return this.startInstance({ AGENTMESH_PORT: new URL(instance.url).port });
  }

  /** An SDK agent in a process of its own, connected to `instance`; its runs are counted in `runs`. */
  async startAgentProcess(instance: ServeProcess, options: Omit<AgentProcessOptions, 'url' | 'apiKey' | 'capability'>): Promise<AgentProcess> {
    const agent = await AgentProcess.start({ url: instance.url, apiKey: ADMIN_KEY, capability: 'work', ...options }, (run) => {
      const ran = this.runs.get(run.task) ?? [];
      ran.push(run.agent);
      this.runs.set(run.task, ran);
    });
    this.agentProcesses.push(agent);
    return agent;
  }

  /** Every instance's log tail, oldest process first, for a failure's message. */
  output(lines = 60): string {
    return this.instances.map((i) => `--- instance ${i.url} (pid ${i.pid}) ---\n${quiet(i.output().trimEnd()).slice(-lines).join('\n')}`).join('\n');
  }

  override async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.restarting);
    await Promise.all(this.agentProcesses.map((a) => a.stop(3_000)));
    await Promise.all(this.agents.map((a) => a.stop({ graceMs: 1_000 }).catch(() => {})));
    await Promise.all(
      this.instances.map(async (i) => {
        i.kill('SIGTERM');
        const timer = setTimeout(() => i.kill('SIGKILL'), 12_000);
        await i.exited;
        clearTimeout(timer);
      }),
    );
    await this.services.dispose();
  }

  /** An exit nobody asked for: record it and, like an orchestrator, start the instance again (retrying while it cannot start). */
  private async onExit(instance: ServeProcess, port: string, code: number | null, fatal: string[]): Promise<void> {
    if (this.closing || this.killed.has(instance)) return;
    const lines = quiet(instance.output().trimEnd());
    this.exits.push({ port, pid: instance.pid, code, at: Date.now(), reason: lastWords(lines, fatal), fatal, output: lines.slice(-40).join('\n') });
    for (let attempt = 1; !this.closing; attempt++) {
      await sleep(Math.min(5_000, 500 * attempt));
      if (this.closing) return;
      try {
        await this.startInstance({ AGENTMESH_PORT: port });
        return;
      } catch {
        // Its dependency is still down: try again, as an orchestrator's restart policy would.
      }
    }
  }
}
