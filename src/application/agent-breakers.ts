import {
  EMPTY_OUTCOME_WINDOW,
  circuitOf,
  halfOpen,
  isProbeDue,
  judgeAgainstPeers,
  mayOpenAnother,
  openAsOutlier,
  recordAgentOutcome,
  recordOutcome,
  type Agent,
  type DomainEvent,
  type OutcomeWindow,
  type Task,
} from '../domain/index.js';
import type { MeshContext } from './mesh-context.js';
import { PLAIN } from '../domain/plain.js';

type Decide = (agent: Agent, now: number) => { agent: Agent; events: DomainEvent[] };

/** Endings the mesh decides (not failures an agent reported). */
const MESH_ENDINGS = new Set(['lease_expired', 'agent_lost', 'agent_stopped', 'canceled', 'deadline_exceeded']);

export type Verdict = 'success' | 'lapsed' | 'reported_failure';

/**
 * What a settled lease says about its agent, or nothing (not its doing).
 * - `lapsed`: it let the lease of a task that reached it lapse, on the task's first attempt (it
 *   took work and went silent on it: hung, overloaded, cut off). A task that failed before may
 *   itself be what is wrong, and an assignment the mesh could not deliver is no fault of the agent's.
 * - `reported_failure`: it reported a retryable failure. Alone this cannot tell a broken agent
 *   from flaky tasks or an upstream down for every agent, so it only counts against its peers.
 * - A non-retryable failure is the agent saying the task is bad; a cancel is nobody's failure.
 */
export function verdictOf(before: Task, after: Task): Verdict | undefined {
  if (after.status === 'completed') return 'success';
  const code = after.error?.code;
  const retried = after.status === 'queued' || after.status === 'dead_lettered';
  if (retried && after.error?.retryable === true && !MESH_ENDINGS.has(code ?? '')) return 'reported_failure';
  if (before.attempts > 1) return undefined;
  return code === 'lease_expired' && before.status === 'running' ? 'lapsed' : undefined;
}

const CIRCUIT_STATES = { AgentCircuitOpened: 'open', AgentCircuitHalfOpened: 'half_open', AgentCircuitClosed: 'closed' } as const;

/**
 * Per-agent circuit breakers, on the instance that runs the queues: an agent that keeps letting the
 * leases of tasks it took lapse, or that fails what its peers get done, is taken out of routing
 * (unhealthy, AgentCircuitOpened, audited), unless that would take more than the allowed share of
 * a capability's agents out; after its cool-down it gets one probe task, whose outcome brings it
 * back or opens it again.
 */
export class AgentBreakers {
  /**
   * Each agent's last outcomes on each of its capabilities (an agent failing one capability's
   * tasks, its upstream down, is not judged on another's); bounded by the directory (pruned of
   * agents and capabilities it no longer has at each probe sweep).
   */
  private readonly windows = new Map<string, OutcomeWindow>();
  /** Agents whose opening is being saved: counted as out already, so that failures together cannot all pass the cap. */
  private readonly opening = new Map<string, Agent>();

  constructor(private readonly ctx: MeshContext) {}

  /** A lease ended: counts the outcome at once; a change of state is committed under the agent's lock. */
  leaseSettled(tenantId: string, agentId: string, before: Task, after: Task): void {
    const verdict = verdictOf(before, after);
    if (verdict === undefined) return;
    const { ctx } = this;
    const agent = ctx.directory.get(tenantId, agentId);
    if (!agent) return;
    const k = windowKey(tenantId, agentId, after.capability);
    const window = recordOutcome(this.windows.get(k) ?? EMPTY_OUTCOME_WINDOW, verdict !== 'success');
    this.windows.set(k, window);
    const settings = ctx.settings.agentBreaker;
    const error = after.error?.message;
    if (verdict === 'reported_failure') {
      const state = circuitOf(agent).state;
      if (state === 'half_open') void this.commit(tenantId, agentId, (current, now) => openAsOutlier(current, 'probe_failed', settings, now, error));
      else if (state === 'closed' && judgeAgainstPeers(window, this.peerWindows(tenantId, agentId, after.capability), settings.failureRatio)) {
        void this.commit(tenantId, agentId, (current, now) => {
          const judged = judgeAgainstPeers(this.windows.get(k) ?? EMPTY_OUTCOME_WINDOW, this.peerWindows(tenantId, agentId, after.capability), settings.failureRatio);
          return judged ? openAsOutlier(current, judged, settings, now, error) : { agent: current, events: [] };
        });
      }
      return;
    }
    const outcome = verdict === 'success' ? 'success' : 'failure';
    const counted = recordAgentOutcome(agent, outcome, settings, ctx.clock.now(), error);
    if (counted.events.length === 0) {
      if (counted.agent !== agent) ctx.directory.setCircuit(tenantId, agentId, circuitOf(counted.agent));
      return;
    }
    // Decided again under the lock, on the state then: another outcome may have changed it meanwhile.
    void this.commit(tenantId, agentId, (current, now) => recordAgentOutcome(current, outcome, settings, now, error));
  }

  /** The windows of the agent's peers on the capability: the others in routing, circuit closed. */
  private peerWindows(tenantId: string, agentId: string, capability: string): OutcomeWindow[] {
    const peers: OutcomeWindow[] = [];
    for (const peer of this.ctx.directory.liveFor(tenantId, capability)) {
      if (peer.id === agentId || circuitOf(peer).state !== 'closed') continue;
      const window = this.windows.get(windowKey(tenantId, peer.id, capability));
      if (window) peers.push(window);
    }
    return peers;
  }

  /** Open circuits whose cool-down ended, of agents still heartbeating, go half-open. */
  async probeDue(now: number): Promise<void> {
    const { ctx } = this;
    // Windows of agents gone, and of capabilities an agent no longer has (it registered again with others).
    for (const k of this.windows.keys()) {
      const [tenantId, agentId, capability] = k.split('\u0000') as [string, string, string];
      const agent = ctx.directory.get(tenantId, agentId);
      if (!agent?.capabilities.some((c) => c.name === capability)) this.windows.delete(k);
    }
    const due = [...ctx.directory.all()].filter((a) => isProbeDue(a, now, ctx.settings.heartbeatTimeoutMs));
    await Promise.all(due.map((a) => this.commit(a.tenantId, a.id, (current, at) => (isProbeDue(current, at, ctx.settings.heartbeatTimeoutMs) ? halfOpen(current, at) : { agent: current, events: [] }))));
  }

  private async commit(tenantId: string, agentId: string, decide: Decide): Promise<void> {
    const { ctx } = this;
    try {
      await ctx.agentLocks.run(agentKey(tenantId, agentId), async () => {
        const current = ctx.directory.get(tenantId, agentId);
        if (!current) return;
        let change = decide(current, ctx.clock.now());
        if (change.events[0]?.type === 'AgentCircuitOpened' && circuitOf(current).state === 'closed' && !this.mayOpen(current)) {
          // Its failures stay counted: once another agent of its capabilities is back, the next one opens it.
          ctx.metrics.agentEjectionCapped(tenantId);
          ctx.logger.warn({ tenant_id: tenantId, agent_id: agentId, max_ejection_percent: ctx.settings.agentBreaker.maxEjectionPercent }, 'agent circuit breaker stays closed: too many agents of its capabilities are out already');
          change = { agent: { ...PLAIN, ...current, circuit: { ...PLAIN, ...circuitOf(current), consecutiveFailures: circuitOf(change.agent).consecutiveFailures } }, events: [] };
        }
        if (change.events.length === 0) {
          ctx.directory.setCircuit(tenantId, agentId, circuitOf(change.agent));
          return;
        }
        const opens = change.events[0]!.type === 'AgentCircuitOpened' && circuitOf(current).state === 'closed';
        // Reserved before the save's await, in the same turn as the cap's check.
        if (opens) this.opening.set(agentKey(tenantId, agentId), current);
        let stored: Agent;
        try {
          await ctx.agents.save(change.agent, change.events);
          stored = ctx.directory.applyLifecycle(change.agent);
        } finally {
          if (opens) this.opening.delete(agentKey(tenantId, agentId));
        }
        const type = change.events[0]!.type as keyof typeof CIRCUIT_STATES;
        const to = CIRCUIT_STATES[type];
        ctx.metrics.agentCircuitChanged(tenantId, to);
        // A reopened or recovered agent is judged afresh, on outcomes after the change.
        if (to !== 'half_open') for (const c of stored.capabilities) this.windows.delete(windowKey(tenantId, agentId, c.name));
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

  /** Whether, for each of its capabilities, one more agent may be out of routing (those being opened count as out). */
  private mayOpen(agent: Agent): boolean {
    const { maxEjectionPercent } = this.ctx.settings.agentBreaker;
    return agent.capabilities.every((c) => {
      const { out, agents } = this.ctx.directory.circuitsFor(agent.tenantId, c.name);
      let beingOpened = 0;
      for (const other of this.opening.values()) if (other.tenantId === agent.tenantId && other.id !== agent.id && other.capabilities.some((oc) => oc.name === c.name)) beingOpened++;
      return mayOpenAnother(out + beingOpened, agents, maxEjectionPercent);
    });
  }
}

const agentKey = (tenantId: string, agentId: string) => `${tenantId}\u0000${agentId}`;
const windowKey = (tenantId: string, agentId: string, capability: string) => `${tenantId}\u0000${agentId}\u0000${capability}`;
