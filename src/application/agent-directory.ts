import {
  canHandle,
  isLive,
  proficiencyFor,
  routableSlots,
  withTaskAssigned,
  withTaskReleased,
  type Agent,
  type AgentCircuit,
  type RoutingCandidate,
} from '../domain/index.js';
import { PLAIN } from '../domain/plain.js';

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/**
 * This instance's view of every agent that is not terminated, indexed by tenant and capability,
 * with live load counts for routing. Bounded by the tenants' maxAgents quotas.
 */
export class AgentDirectory {
  private readonly agents = new Map<string, Agent>();
  private readonly byCapability = new Map<string, Set<string>>();
  /** Agents whose counters changed since the last flush to the store. */
  private readonly dirty = new Set<string>();

  get size(): number {
    return this.agents.size;
  }

  get(tenantId: string, id: string): Agent | undefined {
    return this.agents.get(key(tenantId, id));
  }

  all(): IterableIterator<Agent> {
    return this.agents.values();
  }

  put(agent: Agent): void {
    const k = key(agent.tenantId, agent.id);
    const previous = this.agents.get(k);
    if (previous) {
      for (const c of previous.capabilities) {
        const ck = key(agent.tenantId, c.name);
        const set = this.byCapability.get(ck);
        set?.delete(k);
        if (set?.size === 0) this.byCapability.delete(ck);
      }
    }
    if (agent.status === 'terminated') {
      this.agents.delete(k);
      this.dirty.delete(k);
      return;
    }
    this.agents.set(k, agent);
    // Heartbeats and load live here first; the sweeper persists them.
    this.dirty.add(k);
    for (const c of agent.capabilities) {
      const ck = key(agent.tenantId, c.name);
      let set = this.byCapability.get(ck);
      if (!set) this.byCapability.set(ck, (set = new Set()));
      set.add(k);
    }
  }

  /**
   * A lifecycle change computed from an earlier read (before an await): keep the load counters
   * the directory holds now, take everything else from `changed`. Returns what is stored.
   */
  applyLifecycle(changed: Agent): Agent {
    const current = this.get(changed.tenantId, changed.id);
    if (!current || changed.status === 'terminated') {
      this.put(changed);
      return changed;
    }
    const merged: Agent = {
      ...PLAIN,
      ...changed,
      inFlight: current.inFlight,
      assignedCount: current.assignedCount,
      completedCount: current.completedCount,
      failedCount: current.failedCount,
      avgLatencyMs: current.avgLatencyMs,
    };
    if (isLive(merged)) merged.status = merged.inFlight >= merged.maxConcurrentTasks ? 'busy' : 'available';
    this.put(merged);
    return merged;
  }

  /** Agents that may take work (available or busy), per tenant. */
  liveCountByTenant(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const a of this.agents.values()) if (isLive(a)) counts.set(a.tenantId, (counts.get(a.tenantId) ?? 0) + 1);
    return counts;
  }

  /** Agents whose circuit breaker is not closed, per tenant. */
  trippedCountByTenant(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const a of this.agents.values()) if (a.circuit !== undefined && a.circuit.state !== 'closed') counts.set(a.tenantId, (counts.get(a.tenantId) ?? 0) + 1);
    return counts;
  }

  /** Of the tenant's agents of the capability: how many are out of routing by their breaker (open or half-open), of how many. */
  circuitsFor(tenantId: string, capability: string): { out: number; agents: number } {
    const ids = this.byCapability.get(key(tenantId, capability));
    let out = 0;
    for (const k of ids ?? []) {
      const state = this.agents.get(k)?.circuit?.state;
      if (state !== undefined && state !== 'closed') out++;
    }
    return { out, agents: ids?.size ?? 0 };
  }

  /** Live agents of the tenant able to run the capability. */
  liveFor(tenantId: string, capability: string): Agent[] {
    const ids = this.byCapability.get(key(tenantId, capability));
    if (!ids) return [];
    const result: Agent[] = [];
    for (const k of ids) {
      const agent = this.agents.get(k);
      if (agent && isLive(agent) && canHandle(agent, capability)) result.push(agent);
    }
    return result;
  }

  candidates(tenantId: string, capability: string, now: number, heartbeatTimeoutMs: number): RoutingCandidate[] {
    return this.liveFor(tenantId, capability).map((a) => ({
      id: a.id,
      inFlight: a.inFlight,
      // Half-open: one probe task at a time.
      maxConcurrentTasks: routableSlots(a),
      proficiency: proficiencyFor(a, capability),
      assignedCount: a.assignedCount,
      completedCount: a.completedCount,
      failedCount: a.failedCount,
      avgLatencyMs: a.avgLatencyMs,
      freshness: Math.max(0, Math.min(1, 1 - (now - a.lastHeartbeatAt) / heartbeatTimeoutMs)),
    }));
  }

  /** A lease found in the store at start: load only, not a new assignment. */
  restoreSlot(tenantId: string, id: string): void {
    this.updateCounters(tenantId, id, (a) => ({ ...PLAIN, ...a, inFlight: a.inFlight + 1, status: a.status === 'available' && a.inFlight + 1 >= a.maxConcurrentTasks ? 'busy' : a.status }));
  }

  reserveSlot(tenantId: string, id: string, now: number): void {
    this.updateCounters(tenantId, id, (a) => withTaskAssigned(a, now));
  }

  releaseSlot(tenantId: string, id: string, outcome: 'completed' | 'failed' | 'released', latencyMs: number | undefined, now: number): void {
    this.updateCounters(tenantId, id, (a) => withTaskReleased(a, outcome, latencyMs, now));
  }

  /** Undo a reservation whose assignment did not happen. */
  unreserveSlot(tenantId: string, id: string, now: number): void {
    this.updateCounters(tenantId, id, (a) => ({
      ...PLAIN,
      ...withTaskReleased(a, 'released', undefined, now),
      assignedCount: Math.max(0, a.assignedCount - 1),
    }));
  }

  /** Its breaker's counts moved (no lifecycle change). */
  setCircuit(tenantId: string, id: string, circuit: AgentCircuit): void {
    const k = key(tenantId, id);
    const agent = this.agents.get(k);
    if (agent) this.agents.set(k, { ...PLAIN, ...agent, circuit });
  }

  markDirty(tenantId: string, id: string): void {
    if (this.agents.has(key(tenantId, id))) this.dirty.add(key(tenantId, id));
  }

  /** Agents whose counters changed since the last call; the caller persists them. */
  takeDirty(): Agent[] {
    const result: Agent[] = [];
    for (const k of this.dirty) {
      const agent = this.agents.get(k);
      if (agent) result.push(agent);
    }
    this.dirty.clear();
    return result;
  }

  private updateCounters(tenantId: string, id: string, change: (agent: Agent) => Agent): void {
    const k = key(tenantId, id);
    const agent = this.agents.get(k);
    if (!agent) return;
    this.agents.set(k, change(agent));
    this.dirty.add(k);
  }
}
