import { AgentDelivery } from './agent-delivery.js';
import { AgentDirectory } from './agent-directory.js';
import { Dispatcher } from './dispatcher.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { MeshContext, MeshPorts } from './mesh-context.js';
import { MeshStats } from './mesh-stats.js';
import type { MeshSettings } from './settings.js';
import { SubmitCounter } from './submit-counter.js';
import { Sweeper } from './sweeper.js';
import { TaskLifecycle } from './task-lifecycle.js';
import { TaskWaiters } from './task-waiters.js';
import { Authenticator } from './use-cases/authenticate.js';
import { bootstrap } from './use-cases/bootstrap.js';

/**
 * One mesh instance: the ports plus the in-memory coordination state, started from the store.
 * The presentation layer calls use cases with `mesh.ctx` and the services exposed here.
 */
export class Mesh {
  readonly ctx: MeshContext;
  readonly auth: Authenticator;
  readonly delivery: AgentDelivery;
  readonly submitCounter = new SubmitCounter();
  private readonly sweeper: Sweeper;
  private started = false;

  constructor(ports: MeshPorts, settings: MeshSettings) {
    const ctx = {
      ...ports,
      settings,
      directory: new AgentDirectory(),
      taskLocks: new KeyedMutex(),
      agentLocks: new KeyedMutex(),
      waiters: new TaskWaiters(),
      stats: new MeshStats(),
    } as MeshContext;
    ctx.dispatcher = new Dispatcher(ctx);
    ctx.lifecycle = new TaskLifecycle(ctx);
    this.ctx = ctx;
    this.auth = new Authenticator(ports.apiKeys, ports.clock);
    this.delivery = new AgentDelivery(ctx);
    this.sweeper = new Sweeper(ctx);
  }

  /** Loads agents and active tasks from the store, bootstraps the first tenant, starts the sweeper. */
  async start(options: { adminKey?: string } = {}): Promise<{ createdAdminKey?: string }> {
    const { ctx } = this;
    const boot = await bootstrap(ctx, options.adminKey);
    for (const agent of await ctx.agents.listNotTerminated()) ctx.directory.put({ ...agent, inFlight: 0 });
    const active = await ctx.tasks.listActive();
    const now = ctx.clock.now();
    for (const task of active) ctx.lifecycle.recover(task);
    // A broadcast whose last copy ended just before the stop may not have completed yet.
    for (const task of active) {
      if (task.status === 'running' && task.routing.strategy === 'broadcast' && task.parentId === undefined) {
        await ctx.dispatcher.completeBroadcastParent(task.tenantId, task.id);
      }
    }
    // The hourly quota counts what was submitted before the restart too.
    for (const tenantId of await ctx.tenants.listIds()) {
      const count = await ctx.tasks.countSubmittedSince(tenantId, now - 3600_000);
      if (count > 0) this.submitCounter.record(tenantId, now, count);
    }
    // Agents that were connected before the restart get a fresh heartbeat window to reconnect.
    for (const agent of [...ctx.directory.all()]) ctx.directory.put({ ...ctx.directory.get(agent.tenantId, agent.id)!, lastHeartbeatAt: now });
    this.sweeper.start();
    this.started = true;
    ctx.logger.info({ agents: ctx.directory.size, active_tasks: active.length }, 'mesh started');
    return boot.createdKey !== undefined ? { createdAdminKey: boot.createdKey } : {};
  }

  /** Runs the periodic duties now (tests and shutdown). */
  sweep(): Promise<void> {
    return this.sweeper.sweep();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    // A sweep under way may hold agents' counters in flight: let it finish before the last flush.
    await this.sweeper.stop();
    this.ctx.dispatcher.stop();
    await this.sweeper.flushAgentCounters();
  }
}
