/** Wire types of the AgentMesh API, as the SDK sees them. */

// Type-only imports: erased at runtime, so the SDK still loads no server code.
import type { TaskStatus, RoutingStrategy, TaskError, AgentStatus } from '../domain/index.js';
export type { TaskStatus, RoutingStrategy, TaskError, AgentStatus, DeliveredTask } from '../domain/index.js';


export interface Task<Output = unknown> {
  id: string;
  tenantId: string;
  capability: string;
  input: unknown;
  priority: number;
  routing: { strategy: RoutingStrategy; affinityKey?: string };
  maxAttempts: number;
  leaseMs: number;
  deadline?: number;
  status: TaskStatus;
  attempts: number;
  agentId?: string;
  leaseExpiresAt?: number;
  /** Not routed before this time (a retry's backoff). */
  availableAt: number;
  output?: Output;
  error?: TaskError;
  idempotencyKey?: string;
  parentId?: string;
  /** A broadcast copy's agent. */
  targetAgentId?: string;
  createdAt: number;
  updatedAt: number;
  assignedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  version: number;
  /** The A2A contextId the task was sent under (tasks submitted over A2A only). */
  contextId?: string;
  /** The W3C trace context the task was submitted with. */
  traceContext?: { traceparent: string; tracestate?: string };
  secrets?: string[];
  cache?: { ttlSeconds: number; key?: string };
  /** Completed at submit from an identical task's kept result, without an agent. */
  cached?: boolean;
}

export interface SubmitOptions {
  priority?: number;
  routing?: { strategy: RoutingStrategy; affinityKey?: string };
  maxAttempts?: number;
  leaseMs?: number;
  /** Epoch ms, Date, or RFC 3339 string. */
  deadline?: number | Date | string;
  /** Retries with the same key return the first task instead of submitting again. */
  idempotencyKey?: string;
  /** Secrets of the tenant the agent working the task may read (`context.secret(name)`), if their policies allow the capability. */
  secrets?: string[];
  /** Let identical tasks (same capability, and input or key) reuse this one's result for ttlSeconds, when the mesh keeps results (AGENTMESH_CACHE_RESULTS=on). */
  cache?: { ttlSeconds: number; key?: string };
  /** W3C trace context to hand to the agent (sent as the traceparent and tracestate headers; such a submit is not batched). */
  traceparent?: string;
  tracestate?: string;
}

export interface AgentInfo {
  id: string;
  tenantId: string;
  name: string;
  description: string;
  capabilities: Array<{ name: string; proficiency: number }>;
  tags: string[];
  metadata: Record<string, unknown>;
  maxConcurrentTasks: number;
  status: AgentStatus;
  inFlight: number;
  assignedCount: number;
  completedCount: number;
  failedCount: number;
  avgLatencyMs: number;
  lastHeartbeatAt: number;
  registeredAt: number;
  updatedAt: number;
  version: number;
  a2aUrl?: string;
  /** The agent's own circuit breaker (docs/resilience.md, per-agent circuit breakers). */
  circuit?: {
    state: 'closed' | 'open' | 'half_open';
    consecutiveFailures: number;
    opens: number;
    openedAt?: number;
    probeAt?: number;
  };
}

export interface RegisterAgentRequest {
  id?: string;
  name: string;
  description?: string;
  capabilities: Array<{ name: string; proficiency?: number }>;
  tags?: string[];
  maxConcurrentTasks?: number;
  metadata?: Record<string, unknown>;
  /** An A2A server elsewhere: the mesh delivers this agent's tasks by calling it (docs/a2a.md). */
  a2aUrl?: string;
}


export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'dead_lettered', 'canceled']);

/** A secret as the API shows it: never its value. */
export interface SecretInfo {
  name: string;
  description?: string;
  policy: { capabilities: string[] };
  currentVersion: number;
  versions: Array<{ version: number; createdAt: number; createdBy?: string }>;
  createdAt: number;
  updatedAt: number;
  readable: boolean;
}
