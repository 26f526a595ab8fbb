export { AgentMeshClient, type ClientOptions, type SettleResult, type Settlement, type SubmitResult } from './client.js';
export { Agent, type AgentOptions, type TaskContext, type TaskHandler } from './agent.js';
export { AgentMeshError, NonRetryableError } from './errors.js';
export type * from './types.js';
