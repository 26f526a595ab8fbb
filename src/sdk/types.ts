/** Wire types of the AgentMesh API, as the SDK sees them (no server-side imports). */

export type TaskStatus = 'queued' | 'assigned' | 'running' | 'completed' | 'failed' | 'dead_lettered' | 'canceled';
export type AgentStatus = 'available' | 'busy' | 'paused' | 'unhealthy' | 'terminated';
export type RoutingStrategy =
  | 'round_robin'
  | 'least_loaded'
  | 'load_balanced'
  | 'least_connections'
  | 'capability_based'
  | 'affinity'
  | 'priority'
  | 'broadcast';

export interface TaskError {
  message: string;
  code?: string;
  retryable?: boolean;
}

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
  output?: Output;
  error?: TaskError;
  parentId?: string;
  createdAt: number;
  updatedAt: number;
  assignedAt?: number;
  startedAt?: number;
  finishedAt?: number;
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
}

export interface RegisterAgentRequest {
  id?: string;
  name: string;
  description?: string;
  capabilities: Array<{ name: string; proficiency?: number }>;
  tags?: string[];
  maxConcurrentTasks?: number;
  metadata?: Record<string, unknown>;
}

/** A task as delivered to the agent that holds its lease. */
export interface DeliveredTask {
  id: string;
  capability: string;
  input: unknown;
  priority: number;
  attempt: number;
  maxAttempts: number;
  /** The lease's length; the Agent extends by this much while a handler runs. */
  leaseMs: number;
  leaseExpiresAt: number;
  deadline?: number;
  parentId?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'dead_lettered', 'canceled']);
