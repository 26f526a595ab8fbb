import { isLive, loadStatus, transition, type Agent } from './agent.js';
import type { DomainEvent } from './events.js';
import type { OutlierVerdict } from './outcome-window.js';
import { PLAIN } from './plain.js';

/**
 * An agent's circuit breaker: closed (routed to), open (unhealthy: no tasks until its cool-down
 * ends), half-open (one probe task at a time; its outcome closes or reopens the circuit).
 */
export interface AgentCircuit {
  state: 'closed' | 'open' | 'half_open';
  /** Its failures in a row: leases it let lapse on tasks it had received. */
  consecutiveFailures: number;
  /** Times it opened since it was last closed: each reopening doubles the cool-down. */
  opens: number;
  openedAt?: number;
  /** When a probe may go, while open. */
  probeAt?: number;
}

export interface AgentBreakerSettings {
  /** Lapsed leases in a row that open it; 0 turns agent breakers off. */
  failureThreshold: number;
  /** How long it stays open before a probe, the first time; doubled on each reopening. */
  cooldownMs: number;
  maxCooldownMs: number;
  /** The failure ratio (of its last outcomes) from which an agent failing what its peers get done is opened; 0 turns that rule off. */
  failureRatio: number;
  /** The most of a capability's agents that may be open or half-open at once (always at least one). */
  maxEjectionPercent: number;
}

export const DEFAULT_AGENT_BREAKER_SETTINGS: AgentBreakerSettings = {
  failureThreshold: 5,
  cooldownMs: 30_000,
  maxCooldownMs: 600_000,
  failureRatio: 0.5,
  maxEjectionPercent: 50,
};

const CLOSED: AgentCircuit = { state: 'closed', consecutiveFailures: 0, opens: 0 };

export const circuitOf = (agent: Agent): AgentCircuit => agent.circuit ?? CLOSED;

type Change = { agent: Agent; events: DomainEvent[] };

/**
 * The outcome of a task the agent held. A success or failure while closed only counts (no event);
 * the failure that reaches the threshold opens it; a probe's outcome closes or reopens it.
 */
export function recordAgentOutcome(agent: Agent, outcome: 'success' | 'failure', settings: AgentBreakerSettings, now: number, error?: string): Change {
  if (settings.failureThreshold === 0 || agent.status === 'terminated') return { agent, events: [] };
  const circuit = circuitOf(agent);
  if (outcome === 'success') {
    if (circuit.state === 'half_open') {
      const live = { ...PLAIN, ...agent, status: 'available' as const };
      return transition(live, { status: loadStatus(live, agent.inFlight), circuit: CLOSED }, 'AgentCircuitClosed', now, { afterOpens: circuit.opens });
    }
    // A task that an open agent still held finishing well says nothing of the probe to come.
    if (circuit.consecutiveFailures === 0 || circuit.state === 'open') return { agent, events: [] };
    return { agent: { ...PLAIN, ...agent, circuit: { ...PLAIN, ...circuit, consecutiveFailures: 0 } }, events: [] };
  }
  const failures = circuit.consecutiveFailures + 1;
  if (circuit.state === 'open') return { agent: { ...PLAIN, ...agent, circuit: { ...PLAIN, ...circuit, consecutiveFailures: failures } }, events: [] };
  if (circuit.state === 'closed' && failures < settings.failureThreshold) return { agent: { ...PLAIN, ...agent, circuit: { ...PLAIN, ...circuit, consecutiveFailures: failures } }, events: [] };
  return open(agent, { ...PLAIN, ...circuit, consecutiveFailures: failures }, settings, now, { reason: 'lapsed_leases', ...(error !== undefined && { error }) });
}

/**
 * A failure the agent reported on a task, while its peers get theirs done (`judgeAgainstPeers`
 * found it an outlier), or while it is half-open (its probe failed): open.
 */
export function openAsOutlier(agent: Agent, verdict: OutlierVerdict | 'probe_failed', settings: AgentBreakerSettings, now: number, error?: string): Change {
  const circuit = circuitOf(agent);
  if (settings.failureThreshold === 0 || agent.status === 'terminated' || circuit.state === 'open') return { agent, events: [] };
  if (verdict === 'probe_failed' && circuit.state !== 'half_open') return { agent, events: [] };
  const figures = verdict === 'probe_failed' ? {} : { failureRatio: verdict.failureRatio, peerFailureRatio: verdict.peerFailureRatio, peers: verdict.peers };
  return open(agent, circuit, settings, now, { reason: 'failure_rate', ...figures, ...(error !== undefined && { error }) });
}

function open(agent: Agent, circuit: AgentCircuit, settings: AgentBreakerSettings, now: number, data: Record<string, unknown>): Change {
  const cooldownMs = Math.min(settings.maxCooldownMs, settings.cooldownMs * 2 ** circuit.opens);
  const opened: AgentCircuit = { state: 'open', consecutiveFailures: circuit.consecutiveFailures, opens: circuit.opens + 1, openedAt: now, probeAt: now + cooldownMs };
  return transition(agent, { status: 'unhealthy', circuit: opened }, 'AgentCircuitOpened', now, {
    consecutiveFailures: circuit.consecutiveFailures,
    cooldownMs,
    probeFailed: circuit.state === 'half_open',
    ...data,
  });
}

/**
 * Envoy's max_ejection_percent: at most that share of a capability's agents out of routing at
 * once, so that a fault shared by all of them (their upstream down) cannot empty the capability;
 * one agent may always be out.
 */
export function mayOpenAnother(alreadyOut: number, agents: number, maxEjectionPercent: number): boolean {
  return alreadyOut + 1 <= Math.max(1, Math.floor((agents * maxEjectionPercent) / 100));
}

/** Its cool-down is over and it heartbeats: it may take one probe task. */
export function isProbeDue(agent: Agent, now: number, heartbeatTimeoutMs: number): boolean {
  const circuit = circuitOf(agent);
  return circuit.state === 'open' && agent.status === 'unhealthy' && (circuit.probeAt ?? 0) <= now && now - agent.lastHeartbeatAt <= heartbeatTimeoutMs;
}

export function halfOpen(agent: Agent, now: number): Change {
  const circuit = circuitOf(agent);
  if (circuit.state !== 'open' || isLive(agent)) return { agent, events: [] };
  const live = { ...PLAIN, ...agent, status: 'available' as const };
  return transition(live, { status: loadStatus(live, agent.inFlight), circuit: { ...PLAIN, ...circuit, state: 'half_open', probeAt: undefined } }, 'AgentCircuitHalfOpened', now);
}

/** While half-open, one task at a time: the probe. */
export function routableSlots(agent: Agent): number {
  return circuitOf(agent).state === 'half_open' ? 1 : agent.maxConcurrentTasks;
}
