import { DEFAULT_AGENT_BREAKER_SETTINGS, DEFAULT_AGENT_LIMITS, DEFAULT_TASK_LIMITS, type AgentBreakerSettings, type AgentLimits, type TaskLimits } from '../domain/index.js';
import { DEFAULT_SKILL_RESULTS, type SkillResultSettings } from './skill-results.js';

/** The mesh's behaviour knobs, resolved once by config.ts. */
export interface MeshSettings {
  heartbeatTimeoutMs: number;
  /** How often leases, heartbeats and deadlines are checked. */
  sweepIntervalMs: number;
  retryBaseMs: number;
  retryCapMs: number;
  /** Bound on queued (not yet assigned) tasks per tenant; submits past it get 429. */
  maxQueuedPerTenant: number;
  /** Bound on requests of one tenant waiting on this instance for a task to settle (GET /v1/tasks/{id}?waitMs=); past it, 429. */
  maxTaskWaitsPerTenant: number;
  /** Bound on queued tasks scanned per dispatch pass of one queue. */
  dispatchScanLimit: number;
  taskLimits: TaskLimits;
  agentLimits: AgentLimits;
  /** Each agent's circuit breaker: failures in a row that take it out of routing, and the cool-down before a probe task. */
  agentBreaker: AgentBreakerSettings;
  /** Other instances share this mesh: tell them on the broker when a task settles or a key is revoked. */
  clustered: boolean;
  /** The opt-in cache of skill results (a task's `cache`). */
  skillResults: SkillResultSettings;
}

export const DEFAULT_MESH_SETTINGS: MeshSettings = {
  heartbeatTimeoutMs: 30_000,
  sweepIntervalMs: 250,
  retryBaseMs: 200,
  retryCapMs: 30_000,
  maxQueuedPerTenant: 100_000,
  maxTaskWaitsPerTenant: 10_000,
  dispatchScanLimit: 2_000,
  taskLimits: DEFAULT_TASK_LIMITS,
  agentLimits: DEFAULT_AGENT_LIMITS,
  agentBreaker: DEFAULT_AGENT_BREAKER_SETTINGS,
  clustered: false,
  skillResults: DEFAULT_SKILL_RESULTS,
};
