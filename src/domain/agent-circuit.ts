import { isLive, loadStatus, transition, type Agent } from './agent.js';
import type { DomainEvent } from './events.js';

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
  /** Failures in a row that open it; 0 turns agent breakers off. */
  failureThreshold: number;
  /** How long it stays open before a probe, the first time; doubled on each reopening. */
  cooldownMs: number;
  maxCooldownMs: number;
}

export const DEFAULT_AGENT_BREAKER_SETTINGS: AgentBreakerSettings = { failureThreshold: 5, cooldownMs: 30_000, maxCooldownMs: 600_000 };

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
      const live = { ...agent, status: 'available' as const };
      return transition(live, { status: loadStatus(live, agent.inFlight), circuit: CLOSED }, 'AgentCircuitClosed', now, { afterOpens: circuit.opens });
    }
    // A task that an open agent still held finishing well says nothing of the probe to come.
    if (circuit.consecutiveFailures === 0 || circuit.state === 'open') return { agent, events: [] };
    return { agent: { ...agent, circuit: { ...circuit, consecutiveFailures: 0 } }, events: [] };
  }
  const failures = circuit.consecutiveFailures + 1;
  if (circuit.state === 'open') return { agent: { ...agent, circuit: { ...circuit, consecutiveFailures: failures } }, events: [] };
  if (circuit.state === 'closed' && failures < settings.failureThreshold) return { agent: { ...agent, circuit: { ...circuit, consecutiveFailures: failures } }, events: [] };
  const cooldownMs = Math.min(settings.maxCooldownMs, settings.cooldownMs * 2 ** circuit.opens);
  const opened: AgentCircuit = { state: 'open', consecutiveFailures: failures, opens: circuit.opens + 1, openedAt: now, probeAt: now + cooldownMs };
  return transition(agent, { status: 'unhealthy', circuit: opened }, 'AgentCircuitOpened', now, {
    consecutiveFailures: failures,
    cooldownMs,
    probeFailed: circuit.state === 'half_open',
    ...(error !== undefined && { error }),
  });
}

/** Its cool-down is over and it heartbeats: it may take one probe task. */
export function isProbeDue(agent: Agent, now: number, heartbeatTimeoutMs: number): boolean {
  const circuit = circuitOf(agent);
  return circuit.state === 'open' && agent.status === 'unhealthy' && (circuit.probeAt ?? 0) <= now && now - agent.lastHeartbeatAt <= heartbeatTimeoutMs;
}

export function halfOpen(agent: Agent, now: number): Change {
  const circuit = circuitOf(agent);
  if (circuit.state !== 'open' || isLive(agent)) return { agent, events: [] };
  const live = { ...agent, status: 'available' as const };
  return transition(live, { status: loadStatus(live, agent.inFlight), circuit: { ...circuit, state: 'half_open', probeAt: undefined } }, 'AgentCircuitHalfOpened', now);
}

/** While half-open, one task at a time: the probe. */
export function routableSlots(agent: Agent): number {
  return circuitOf(agent).state === 'half_open' ? 1 : agent.maxConcurrentTasks;
}
