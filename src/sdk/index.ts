export { AgentMeshClient, type CallOptions, type ClientOptions, type SettleResult, type Settlement, type SubmitResult } from './client.js';
export { Agent, type AgentErrorContext, type AgentOptions, type TaskContext, type TaskHandler } from './agent.js';
export { AgentMeshError, NonRetryableError, TaskWithdrawnError } from './errors.js';
export { pathSegment } from './path.js';
export { RETRY_DEFAULTS, type RetryEvent, type RetryOptions } from './retry.js';
export type * from './types.js';
