import type { DomainEvent, AgentEventType } from './events.js';
import { ConflictError, InvalidStateError, ValidationError } from './errors.js';
import type { AgentCircuit } from './agent-circuit.js';
import { assertHttpUrl, assertIdentifier, assertIntegerInRange, assertJsonWithin, assertName, assertStorableText } from './validation.js';
import { PLAIN } from './plain.js';

export const AGENT_STATUSES = ['available', 'busy', 'paused', 'unhealthy', 'terminated'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export interface Capability {
  name: string;
  /** 1 (novice) to 5 (expert). */
  proficiency: number;
}

export interface Agent {
  id: string;
  tenantId: string;
  name: string;
  description: string;
  capabilities: Capability[];
  tags: string[];
  metadata: Record<string, unknown>;
  maxConcurrentTasks: number;
  status: AgentStatus;
  /** Tasks leased to this agent right now. */
  inFlight: number;
  assignedCount: number;
  completedCount: number;
  failedCount: number;
  /** Exponential moving average of assignment-to-outcome time. */
  avgLatencyMs: number;
  lastHeartbeatAt: number;
  registeredAt: number;
  updatedAt: number;
  version: number;
  /** The agent's circuit breaker; absent means closed with no failures. */
  circuit?: AgentCircuit;
  /** An A2A server elsewhere: the mesh delivers this agent's tasks by calling it (docs/a2a.md). */
  a2aUrl?: string;
}

export interface AgentLimits {
  maxMetadataBytes: number;
  maxCapabilities: number;
  maxTags: number;
  maxConcurrentTasksCeiling: number;
}

export const MAX_A2A_URL_LENGTH = 2048;

export const DEFAULT_AGENT_LIMITS: AgentLimits = {
  maxMetadataBytes: 16 * 1024,
  maxCapabilities: 64,
  maxTags: 64,
  maxConcurrentTasksCeiling: 1000,
};

export interface RegisterAgentInput {
  id: string;
  tenantId: string;
  name: string;
  description?: string;
  capabilities: Array<{ name: string; proficiency?: number }>;
  tags?: string[];
  metadata?: Record<string, unknown>;
  maxConcurrentTasks?: number;
  a2aUrl?: string;
}

type Change = { agent: Agent; events: DomainEvent[] };

function event(agent: Agent, type: AgentEventType, now: number, data: Record<string, unknown> = {}): DomainEvent {
  return {
    type,
    aggregateType: 'agent',
    aggregateId: agent.id,
    tenantId: agent.tenantId,
    version: agent.version,
    occurredAt: now,
    data,
  };
}

export function transition(agent: Agent, patch: Partial<Agent>, type: AgentEventType, now: number, data = {}): Change {
  const next: Agent = { ...PLAIN, ...agent, ...patch, updatedAt: now, version: agent.version + 1 };
  return { agent: next, events: [event(next, type, now, data)] };
}

export function registerAgent(input: RegisterAgentInput, now: number, limits = DEFAULT_AGENT_LIMITS): Change {
  assertIdentifier(input.id, 'id');
  const name = input.name?.trim() ?? '';
  if (name.length === 0 || name.length > 256) throw new ValidationError('name must be 1-256 characters', 'name');
  const description = input.description ?? '';
  if (description.length > 4096) throw new ValidationError('description must be at most 4096 characters', 'description');
  if (!Array.isArray(input.capabilities) || input.capabilities.length === 0) {
    throw new ValidationError('capabilities must list at least one capability', 'capabilities');
  }
  if (input.capabilities.length > limits.maxCapabilities) {
    throw new ValidationError(`capabilities must list at most ${limits.maxCapabilities}`, 'capabilities');
  }
  const seen = new Set<string>();
  const capabilities = input.capabilities.map((c, i) => {
    assertName(c.name, `capabilities[${i}].name`);
    if (seen.has(c.name)) throw new ValidationError(`capability '${c.name}' is listed twice`, `capabilities[${i}].name`);
    seen.add(c.name);
    const proficiency = c.proficiency ?? 3;
    assertIntegerInRange(proficiency, 1, 5, `capabilities[${i}].proficiency`);
    return { name: c.name, proficiency };
  });
  const tags = input.tags ?? [];
  if (tags.length > limits.maxTags) throw new ValidationError(`tags must list at most ${limits.maxTags}`, 'tags');
  tags.forEach((t, i) => assertName(t, `tags[${i}]`));
  const metadata = input.metadata ?? {};
  assertJsonWithin(metadata, limits.maxMetadataBytes, 'metadata');
  assertStorableText(name, 'name');
  assertStorableText(description, 'description');
  const maxConcurrentTasks = input.maxConcurrentTasks ?? 1;
  assertIntegerInRange(maxConcurrentTasks, 1, limits.maxConcurrentTasksCeiling, 'maxConcurrentTasks');
  if (input.a2aUrl !== undefined) assertHttpUrl(input.a2aUrl, MAX_A2A_URL_LENGTH, 'a2aUrl');

  const agent: Agent = {
    id: input.id,
    tenantId: input.tenantId,
    name,
    description,
    capabilities,
    tags: [...new Set(tags)],
    metadata,
    maxConcurrentTasks,
    ...(input.a2aUrl !== undefined && { a2aUrl: input.a2aUrl }),
    status: 'available',
    inFlight: 0,
    assignedCount: 0,
    completedCount: 0,
    failedCount: 0,
    avgLatencyMs: 0,
    lastHeartbeatAt: now,
    registeredAt: now,
    updatedAt: now,
    version: 1,
  };
  return {
    agent,
    events: [event(agent, 'AgentRegistered', now, { name, capabilities, tags: agent.tags, maxConcurrentTasks, ...(agent.a2aUrl !== undefined && { a2aUrl: agent.a2aUrl }) })],
  };
}

/**
 * The same id joins again after it was terminated or went silent (a restarted worker): a fresh
 * registration that keeps the id's history (version, lifetime counters).
 */
export function reregisterAgent(
  existing: Agent,
  input: RegisterAgentInput,
  now: number,
  limits = DEFAULT_AGENT_LIMITS,
  heartbeatTimeoutMs = Infinity,
): Change {
  // A paused agent is not watched for heartbeats; once silent past the timeout, its id is free again.
  const silentWhilePaused = existing.status === 'paused' && now - existing.lastHeartbeatAt > heartbeatTimeoutMs;
  if (existing.status !== 'terminated' && existing.status !== 'unhealthy' && !silentWhilePaused) {
    throw new ConflictError(`agent '${existing.id}' already exists and is ${existing.status}`, { id: existing.id, agentStatus: existing.status });
  }
  const fresh = registerAgent(input, now, limits).agent;
  const agent: Agent = {
    ...PLAIN,
    ...fresh,
    assignedCount: existing.assignedCount,
    completedCount: existing.completedCount,
    failedCount: existing.failedCount,
    avgLatencyMs: existing.avgLatencyMs,
    registeredAt: existing.registeredAt,
    version: existing.version + 1,
  };
  const registered = registerAgent(input, now, limits).events[0]!;
  return { agent, events: [{ ...PLAIN, ...registered, version: agent.version, data: { ...PLAIN, ...registered.data, rejoined: true } }] };
}

/** The statuses load moves an agent between; the others are set only by lifecycle transitions. */
export function isLiveStatus(status: AgentStatus): boolean {
  return status === 'available' || status === 'busy';
}

export function isLive(agent: Agent): boolean {
  return isLiveStatus(agent.status);
}

/** Can take another task now: live and below its concurrency limit. */
export function hasCapacity(agent: Agent): boolean {
  return isLive(agent) && agent.inFlight < agent.maxConcurrentTasks;
}

export function proficiencyFor(agent: Agent, capability: string): number {
  return agent.capabilities.find((c) => c.name === capability)?.proficiency ?? 0;
}

export function canHandle(agent: Agent, capability: string): boolean {
  return agent.capabilities.some((c) => c.name === capability);
}

/** available <-> busy follows load; other statuses are set only by lifecycle transitions. */
export function loadStatus(agent: Agent, inFlight: number): AgentStatus {
  if (!isLive(agent)) return agent.status;
  return inFlight >= agent.maxConcurrentTasks ? 'busy' : 'available';
}

/** Load changes are counters, not lifecycle events: they bump no version. */
export function withTaskAssigned(agent: Agent, now: number): Agent {
  const inFlight = agent.inFlight + 1;
  return { ...PLAIN, ...agent, inFlight, assignedCount: agent.assignedCount + 1, status: loadStatus(agent, inFlight), updatedAt: now };
}

const LATENCY_SMOOTHING = 0.2;

export function withTaskReleased(
  agent: Agent,
  outcome: 'completed' | 'failed' | 'released',
  latencyMs: number | undefined,
  now: number,
): Agent {
  const inFlight = Math.max(0, agent.inFlight - 1);
  const avgLatencyMs =
    latencyMs === undefined
      ? agent.avgLatencyMs
      : agent.completedCount + agent.failedCount === 0
        ? latencyMs
        : agent.avgLatencyMs + LATENCY_SMOOTHING * (latencyMs - agent.avgLatencyMs);
  return {
    ...PLAIN,
    ...agent,
    inFlight,
    completedCount: agent.completedCount + (outcome === 'completed' ? 1 : 0),
    failedCount: agent.failedCount + (outcome === 'failed' ? 1 : 0),
    avgLatencyMs,
    status: loadStatus(agent, inFlight),
    updatedAt: now,
  };
}

export function heartbeat(agent: Agent, now: number): Change {
  if (agent.status === 'terminated') throw new InvalidStateError(`agent '${agent.id}' is terminated`);
  // Its breaker keeps it out of routing until a probe task succeeds, heartbeats or not.
  if (agent.status === 'unhealthy' && agent.circuit?.state === 'open') return { agent: { ...PLAIN, ...agent, lastHeartbeatAt: now }, events: [] };
  if (agent.status === 'unhealthy') {
    const recovered = { ...PLAIN, ...agent, status: 'available' as AgentStatus };
    return transition(recovered, { lastHeartbeatAt: now, status: loadStatus(recovered, agent.inFlight) }, 'AgentRecovered', now);
  }
  return { agent: { ...PLAIN, ...agent, lastHeartbeatAt: now }, events: [] };
}

export function heartbeatMissed(agent: Agent, now: number): Change {
  if (!isLive(agent)) return { agent, events: [] };
  return transition(agent, { status: 'unhealthy' }, 'AgentHeartbeatMissed', now, { lastHeartbeatAt: agent.lastHeartbeatAt });
}

export function pause(agent: Agent, now: number): Change {
  if (agent.status === 'paused') return { agent, events: [] };
  if (agent.status === 'terminated') throw new InvalidStateError(`agent '${agent.id}' is terminated`);
  return transition(agent, { status: 'paused' }, 'AgentPaused', now);
}

export function resume(agent: Agent, now: number): Change {
  if (agent.status !== 'paused') {
    if (isLive(agent)) return { agent, events: [] };
    throw new InvalidStateError(`agent '${agent.id}' is ${agent.status}, not paused`);
  }
  const live = { ...PLAIN, ...agent, status: 'available' as AgentStatus };
  // Paused while its breaker was open, it goes back to waiting for its probe, not to routing.
  const status = agent.circuit?.state === 'open' ? 'unhealthy' : loadStatus(live, agent.inFlight);
  return transition(live, { status, lastHeartbeatAt: now }, 'AgentResumed', now);
}

export function terminate(agent: Agent, now: number): Change {
  if (agent.status === 'terminated') return { agent, events: [] };
  return transition(agent, { status: 'terminated' }, 'AgentTerminated', now);
}
