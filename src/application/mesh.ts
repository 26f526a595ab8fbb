import { AgentDelivery } from './agent-delivery.js';
import { AgentBreakers } from './agent-breakers.js';
import { AgentDirectory } from './agent-directory.js';
import { AuditLogger } from './audit-logger.js';
import { Dispatcher } from './dispatcher.js';
import { KeyedMutex } from './keyed-mutex.js';
import { localCommands, type MeshCommands } from './mesh-commands.js';
import type { MeshContext, MeshPorts } from './mesh-context.js';
import { MeshStats } from './mesh-stats.js';
import { RemoteAgents } from './remote-agents.js';
import type { MeshSettings } from './settings.js';
import { SubmitCounter } from './submit-counter.js';
import { Sweeper } from './sweeper.js';
import { TaskLifecycle } from './task-lifecycle.js';
import { TaskWaiters } from './task-waiters.js';
import type { Caller } from './caller.js';
import { NO_METRICS } from './ports.js';
import { Authenticator } from './use-cases/authenticate.js';
import { bootstrap } from './use-cases/bootstrap.js';
import { CacheWarmer } from './cache-warmer.js';
import { SkillResults } from './skill-results.js';
import { PLAIN } from '../domain/plain.js';

/** Between two heartbeats a follower forwards for one agent's open connection. */
const FORWARDED_HEARTBEAT_EVERY_MS = 1_000;
const MAX_FORWARDED_HEARTBEATS = 100_000;

export interface MeshStartOptions {
  /** The platform admin key to register (AGENTMESH_ADMIN_KEY); without it, a first start makes one. */
  adminKey?: string;
  onAdminKeyCreated?: (key: string) => void;
}

/**
 * One mesh instance: the ports plus the in-memory coordination state, started from the store.
 * The leader (or a lone instance) runs the queues, leases and registry; a follower reads from the
 * store and sends every change to the leader (`commands`). The presentation layer calls
 * `commands` for changes, and read use cases with `mesh.ctx`.
 */
export class Mesh {
  readonly ctx: MeshContext;
  readonly auth: Authenticator;
  /** Preloads the cache (tenants, agent rosters): at start, on a schedule, and when an admin asks. */
  readonly cacheWarmer: CacheWarmer;
  readonly audit: AuditLogger;
  readonly delivery: AgentDelivery;
  readonly submitCounter = new SubmitCounter();
  /** The commands run on this instance's own state. */
  readonly local: MeshCommands;
  private remote: MeshCommands | undefined;
  private readonly sweeper: Sweeper;
  /** Agents that are A2A servers elsewhere, served by the instance that routes. */
  readonly remoteAgents: RemoteAgents | undefined;
  private started = false;
  /** When this follower last forwarded a keep-alive for an agent (bounded). */
  private readonly forwardedHeartbeats = new Map<string, number>();

  constructor(ports: MeshPorts, settings: MeshSettings) {
    const ctx = {
      ...PLAIN,
      ...ports,
      metrics: ports.metrics ?? NO_METRICS,
      settings,
      directory: new AgentDirectory(),
      taskLocks: new KeyedMutex(),
      agentLocks: new KeyedMutex(),
      waiters: new TaskWaiters(settings.maxTaskWaitsPerTenant, (tenantId) => ctx.metrics.taskWaitRefused(tenantId)),
      stats: new MeshStats(),
    } as MeshContext;
    ctx.dispatcher = new Dispatcher(ctx);
    ctx.lifecycle = new TaskLifecycle(ctx);
    ctx.skillResults = new SkillResults(ports.cache, settings.skillResults, ports.logger.child({ subsystem: 'cache' }));
    ctx.breakers = new AgentBreakers(ctx);
    this.ctx = ctx;
    this.auth = new Authenticator(ports.apiKeys, ports.cache);
    this.audit = new AuditLogger(ports.audit, ports.logger.child({ subsystem: 'audit' }), ports.apiKeys, ports.clock, ports.tenants, ports.personalData, ports.alerts);
    const local = localCommands(ctx, this.submitCounter);
    // A remote agent is served as soon as it registers, not at the next sync.
    this.local = {
      ...PLAIN,
      ...local,
      registerAgent: async (caller, input) => {
        const agent = await local.registerAgent(caller, input);
        if (agent.a2aUrl !== undefined && this.started) void this.remoteAgents?.sync();
        return agent;
      },
    };
    this.delivery = new AgentDelivery(ctx, () => this.commands);
    this.sweeper = new Sweeper(ctx);
    this.remoteAgents = ports.remoteAgents && new RemoteAgents(ctx, ports.remoteAgents, this.delivery, this.local);
    this.cacheWarmer = new CacheWarmer(ctx.tenants, ctx.agents, ports.logger.child({ subsystem: 'cache' }), ports.cache.profile().maxEntries);
  }

  get forwardedHeartbeatCount(): number {
    return this.forwardedHeartbeats.size;
  }

  /** Where changes run: here when this instance leads (or is alone), else on the leader. */
  get commands(): MeshCommands {
    return this.started || this.remote === undefined ? this.local : this.remote;
  }

  get role(): 'leader' | 'follower' | 'standalone' {
    if (this.remote === undefined) return 'standalone';
    return this.started ? 'leader' : 'follower';
  }

  /**
   * Until `start` (elected), this instance sends changes to the leader and hears of settled tasks
   * from it. (Keys revoked on any instance reach its cache over the cache's own bus.)
   */
  follow(remote: MeshCommands): void {
    this.remote = remote;
    this.ctx.waiters.followRemote({ broker: this.ctx.broker, read: (tenantId, id) => this.ctx.tasks.getCommitted(tenantId, id) });
  }

  /**
   * An agent's open connection (long poll, stream) says it is alive. A follower forwards at most one
   * such heartbeat a second per agent: the leader needs to hear of it well within the heartbeat
   * timeout, not at every poll.
   */
  async keepAgentAlive(caller: Caller, agentId: string): Promise<void> {
    if (this.commands === this.local) return void (await this.local.heartbeatAgent(caller, agentId));
    const k = `${caller.tenantId}\u0000${agentId}`;
    const now = this.ctx.clock.now();
    const last = this.forwardedHeartbeats.get(k);
    if (last !== undefined && now - last < FORWARDED_HEARTBEAT_EVERY_MS) return;
    await this.commands.heartbeatAgent(caller, agentId);
    this.forwardedHeartbeats.delete(k);
    this.forwardedHeartbeats.set(k, now);
    if (this.forwardedHeartbeats.size > MAX_FORWARDED_HEARTBEATS) this.forwardedHeartbeats.delete(this.forwardedHeartbeats.keys().next().value!);
  }

  /**
   * Loads agents and active tasks from the store, bootstraps the first tenant, starts the sweeper.
   * `onAdminKeyCreated` hears of a platform key made now at once: a step after it may fail.
   */
  async start(options: MeshStartOptions = {}): Promise<{ createdAdminKey?: string }> {
    const { ctx } = this;
    const boot = await bootstrap(ctx, options.adminKey);
    if (boot.createdKey !== undefined) options.onAdminKeyCreated?.(boot.createdKey);
    for (const agent of await ctx.agents.listNotTerminated()) ctx.directory.put({ ...PLAIN, ...agent, inFlight: 0 });
    const active = await ctx.tasks.listActive();
    const now = ctx.clock.now();
    for (const task of active) ctx.lifecycle.recover(task);
    // A broadcast whose last copy ended just before the stop may not have completed yet.
    for (const task of active) {
      if (task.status === 'running' && task.routing.strategy === 'broadcast' && task.parentId === undefined) {
        await ctx.dispatcher.completeBroadcastParent(task.tenantId, task.id);
      }
    }
    // The hourly quota counts what was submitted before the restart too, each in its own minute,
    // so that it leaves the hour when it would have.
    for (const tenantId of await ctx.tenants.listIds()) {
      for (const { minute, count } of await ctx.tasks.submittedPerMinuteSince(tenantId, now - 3600_000)) this.submitCounter.record(tenantId, minute, count);
    }
    // Agents that were connected before the restart get a fresh heartbeat window to reconnect.
    for (const agent of [...ctx.directory.all()]) ctx.directory.put({ ...PLAIN, ...ctx.directory.get(agent.tenantId, agent.id)!, lastHeartbeatAt: now });
    this.sweeper.start();
    this.remoteAgents?.start();
    this.started = true;
    // A new leader answers waiters itself from now on.
    ctx.waiters.followRemote(undefined);
    ctx.logger.info({ agents: ctx.directory.size, active_tasks: active.length, role: this.role }, 'mesh started');
    return boot.createdKey !== undefined ? { createdAdminKey: boot.createdKey } : {};
  }

  /** Runs the periodic duties now (tests and shutdown). */
  sweep(): Promise<void> {
    return this.sweeper.sweep();
  }

  /**
   * This instance lost the leader's lock: another may lead already. Stop routing and sweeping at
   * once, and write nothing more from the registry (its counters may be stale by now).
   */
  async abdicate(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.ctx.dispatcher.stop();
    await this.remoteAgents?.stop();
    await this.sweeper.stop();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.remoteAgents?.stop();
    // A sweep under way may hold agents' counters in flight: let it finish before the last flush.
    await this.sweeper.stop();
    this.ctx.dispatcher.stop();
    await this.sweeper.flushAgentCounters();
  }
}
