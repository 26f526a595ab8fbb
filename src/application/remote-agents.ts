import { LeaseNotHeldError, PayloadTooLargeError, type Agent, type DeliveredTask } from '../domain/index.js';
import type { AgentDelivery } from './agent-delivery.js';
import type { Caller } from './caller.js';
import type { MeshCommands } from './mesh-commands.js';
import type { MeshContext } from './mesh-context.js';
import type { RemoteAgent, RemoteAgentClient, RemoteOutcome, Subscription } from './ports.js';

/** One remote agent served from here: its inbox subscription and the calls under way. */
interface Bridge {
  agent: RemoteAgent;
  subscription: Subscription | undefined;
  calls: Map<string, AbortController>;
}

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/** The mesh acts for a remote agent as that agent, and as nobody else. */
function actingAs(agent: RemoteAgent): Caller {
  return { keyId: 'a2a-bridge', tenantId: agent.tenantId, role: 'agent', platform: false, agentId: agent.id };
}

const remote = (agent: Agent): agent is Agent & { a2aUrl: string } => agent.a2aUrl !== undefined && agent.status !== 'terminated';

/**
 * Agents registered with an a2aUrl are A2A servers elsewhere. On the instance that routes (the
 * leader, or the only one), this takes their place: it receives their tasks from their inbox as
 * their stream would, calls them through the RemoteAgentClient, extends the lease while a call
 * runs, and completes or fails the task with the lifecycle's own commands, so retries, dead
 * letters and breakers apply as to any agent. Every third of the heartbeat timeout it probes each
 * one's card, and heartbeats it when the card answers: an agent that stops answering goes
 * unhealthy and its tasks move on.
 */
export class RemoteAgents {
  private readonly bridges = new Map<string, Bridge>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly ctx: MeshContext,
    private readonly client: RemoteAgentClient,
    private readonly delivery: AgentDelivery,
    private readonly commands: MeshCommands,
  ) {}

  start(): void {
    const every = Math.max(100, Math.floor(this.ctx.settings.heartbeatTimeoutMs / 3));
    this.timer = setInterval(() => void this.sync(), every);
    void this.sync();
  }

  /** Stops serving: calls under way are abandoned (their leases run out and the tasks move on). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.syncing;
    for (const bridge of [...this.bridges.values()]) this.close(bridge);
  }

  /** Serves the remote agents the registry has now, drops those gone or moved, probes each. */
  sync(): Promise<void> {
    if (this.syncing) {
      // Something changed while a sync ran: one more after it.
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.again = false;
        await this.syncOnce();
      } while (this.again && this.timer !== undefined);
    })()
      .catch((error: unknown) => this.ctx.logger.error({ err: error }, 'remote agents: sync failed'))
      .finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const wanted = new Map<string, RemoteAgent>();
    for (const agent of this.ctx.directory.all()) if (remote(agent)) wanted.set(key(agent.tenantId, agent.id), agent);
    for (const [k, bridge] of this.bridges) {
      const now = wanted.get(k);
      if (now === undefined || now.a2aUrl !== bridge.agent.a2aUrl || now.maxConcurrentTasks !== bridge.agent.maxConcurrentTasks) this.close(bridge);
    }
    await Promise.all(
      [...wanted].map(async ([k, agent]) => {
        if (this.timer === undefined) return;
        if (!this.bridges.has(k)) await this.open(agent);
        // Without a bridge (its inbox could not be opened) nothing would forget what a probe sets up.
        if (this.bridges.has(k)) await this.probe(agent);
      }),
    );
  }

  private async open(agent: RemoteAgent): Promise<void> {
    const bridge: Bridge = { agent, subscription: undefined, calls: new Map() };
    this.bridges.set(key(agent.tenantId, agent.id), bridge);
    try {
      bridge.subscription = await this.delivery.stream(actingAs(agent), agent.id, async (task) => {
        // Handed over: the call runs on its own; its outcome settles the task.
        void this.run(bridge, task);
      });
    } catch (error) {
      this.bridges.delete(key(agent.tenantId, agent.id));
      this.ctx.logger.warn({ err: error, tenant_id: agent.tenantId, agent_id: agent.id }, 'remote agent: its inbox could not be opened; trying again at the next sync');
    }
  }

  private close(bridge: Bridge): void {
    bridge.subscription?.unsubscribe();
    for (const call of bridge.calls.values()) call.abort();
    this.bridges.delete(key(bridge.agent.tenantId, bridge.agent.id));
    this.client.forget(bridge.agent);
  }

  private async probe(agent: RemoteAgent): Promise<void> {
    try {
      await this.client.probe(agent);
    } catch (error) {
      this.ctx.logger.debug({ err: error, tenant_id: agent.tenantId, agent_id: agent.id }, 'remote agent: its card did not answer; no heartbeat');
      return;
    }
    await this.commands.heartbeatAgent(actingAs(agent), agent.id).catch((error: unknown) => {
      this.ctx.logger.warn({ err: error, tenant_id: agent.tenantId, agent_id: agent.id }, 'remote agent: heartbeat refused');
    });
  }

  private async run(bridge: Bridge, task: DeliveredTask): Promise<void> {
    const { agent } = bridge;
    const caller = actingAs(agent);
    const call = new AbortController();
    const callKey = `${task.id}#${task.attempt}`;
    bridge.calls.set(callKey, call);
    // Renewed at half the lease, as the SDK's agents do, for as long as the remote works on it.
    const renew = setInterval(() => {
      this.commands.extendTaskLease(caller, task.id, agent.id, task.leaseMs).catch(() => call.abort());
    }, Math.max(50, Math.floor(task.leaseMs / 2)));
    try {
      const outcome = await this.client.execute(agent, task, call.signal);
      if (call.signal.aborted) return;
      this.ctx.metrics.remoteAgentCalled(agent.tenantId, outcome.outcome === 'completed' ? 'completed' : outcome.call);
      await this.settle(caller, task, outcome);
    } catch (error) {
      this.ctx.logger.warn({ err: error, tenant_id: agent.tenantId, agent_id: agent.id, task_id: task.id }, 'remote agent: the task could not be settled; its lease will run out');
    } finally {
      clearInterval(renew);
      bridge.calls.delete(callKey);
    }
  }

  private async settle(caller: Caller, task: DeliveredTask, outcome: RemoteOutcome): Promise<void> {
    const agentId = caller.agentId!;
    try {
      if (outcome.outcome === 'completed') {
        try {
          await this.commands.completeTask(caller, task.id, agentId, outcome.output);
        } catch (error) {
          if (!(error instanceof PayloadTooLargeError)) throw error;
          await this.commands.failTask(caller, task.id, agentId, { message: `the remote agent's output is too large: ${error.message}`, code: 'output_too_large' }, false);
        }
      } else {
        await this.commands.failTask(caller, task.id, agentId, outcome.error, outcome.retryable);
      }
    } catch (error) {
      // Canceled, or moved on to another agent meanwhile: this outcome is not the task's any more.
      if (error instanceof LeaseNotHeldError) return;
      throw error;
    }
  }
}
