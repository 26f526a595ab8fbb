import { circuitOf, halfOpen, isProbeDue, recordAgentOutcome, type Agent, type DomainEvent, type Task } from '../domain/index.js';
import type { MeshContext } from './mesh-context.js';

type Decide = (agent: Agent, now: number) => { agent: Agent; events: DomainEvent[] };

/**
 * What a settled lease says about its agent: its success, its failure, or nothing (not its doing).
 * A failure is a lease the agent let lapse on a task that reached it, on the task's first attempt:
 * the agent took work and went silent on it (hung, overloaded, cut off). A failure the agent
 * reports does not count: the agent is alive and answering, the task is retried with backoff, and
 * a streak of reported failures cannot tell a broken agent from flaky tasks or an upstream that is
 * down for every agent (measured: the demo's flaky tasks tripped 3 of its 5 workers). A task that
 * failed before may itself be what is wrong, and an assignment the mesh could not deliver (its
 * broker down, its leader gone) is no fault of the agent's.
 */
export function verdictOf(before: Task, after: Task): 'success' | 'failure' | undefined {
  if (after.status === 'completed') return 'success';
  if (before.attempts > 1) return undefined;
  return after.error?.code === 'lease_expired' && before.status === 'running' ? 'failure' : undefined;
}

const CIRCUIT_STATES = { AgentCircuitOpened: 'open', AgentCircuitHalfOpened: 'half_open', AgentCircuitClosed: 'closed' } as const;

/**
 * Per-agent circuit breakers, on the instance that runs the queues: an agent that keeps letting
 * the leases of tasks it took lapse is taken out of routing (unhealthy, AgentCircuitOpened, audited); after
 * its cool-down it gets one probe task; the probe's outcome brings it back or opens it again.
 */
export class AgentBreakers {
  constructor(private readonly ctx: MeshContext) {}

  /** A lease ended: counts the outcome at once; a change of state is committed under the agent's lock. */
  leaseSettled(tenantId: string, agentId: string, before: Task, after: Task): void {
    const verdict = verdictOf(before, after);
    if (verdict === undefined) return;
    const { ctx } = this;
    const agent = ctx.directory.get(tenantId, agentId);
    if (!agent) return;
    const settings = ctx.settings.agentBreaker;
    const error = after.error?.message;
    const counted = recordAgentOutcome(agent, verdict, settings, ctx.clock.now(), error);
    if (counted.events.length === 0) {
      if (counted.agent !== agent) ctx.directory.setCircuit(tenantId, agentId, circuitOf(counted.agent));
      return;
    }
    // Decided again under the lock, on the state then: another outcome may have changed it meanwhile.
    void this.commit(tenantId, agentId, (current, now) => recordAgentOutcome(current, verdict, settings, now, error));
  }

  /** Open circuits whose cool-down ended, of agents still heartbeating, go half-open. */
  async probeDue(now: number): Promise<void> {
    const { ctx } = this;
    const due = [...ctx.directory.all()].filter((a) => isProbeDue(a, now, ctx.settings.heartbeatTimeoutMs));
    await Promise.all(due.map((a) => this.commit(a.tenantId, a.id, (current, at) => (isProbeDue(current, at, ctx.settings.heartbeatTimeoutMs) ? halfOpen(current, at) : { agent: current, events: [] }))));
  }

  private async commit(tenantId: string, agentId: string, decide: Decide): Promise<void> {
    const { ctx } = this;
    try {
      await ctx.agentLocks.run(`${tenantId}\u0000${agentId}`, async () => {
        const current = ctx.directory.get(tenantId, agentId);
        if (!current) return;
        const change = decide(current, ctx.clock.now());
        if (change.events.length === 0) {
          ctx.directory.setCircuit(tenantId, agentId, circuitOf(change.agent));
          return;
        }
        await ctx.agents.save(change.agent, change.events);
        const stored = ctx.directory.applyLifecycle(change.agent);
        const type = change.events[0]!.type as keyof typeof CIRCUIT_STATES;
        const to = CIRCUIT_STATES[type];
        ctx.metrics.agentCircuitChanged(tenantId, to);
        const fields = { tenant_id: tenantId, agent_id: agentId, circuit: to, ...change.events[0]!.data };
        if (to === 'open') ctx.logger.warn(fields, 'agent circuit breaker opened: no tasks for it until a probe succeeds');
        else ctx.logger.info(fields, to === 'closed' ? 'agent circuit breaker closed: its probe task succeeded' : 'agent circuit breaker half-open: one probe task');
        ctx.dispatcher.membershipChanged(tenantId, stored.capabilities.map((c) => c.name));
      });
    } catch (error) {
      // The counts stay; the next outcome or sweep decides again.
      ctx.logger.error({ err: error, tenant_id: tenantId, agent_id: agentId }, "agent circuit breaker: the agent's change could not be saved");
    }
  }
}
