import type { Agent, RegisterAgentInput, Task, TaskError, TaskStatus, TraceContext } from '../domain/index.js';
import type { Caller } from './caller.js';
import type { MeshContext } from './mesh-context.js';
import type { SubmitCounter } from './submit-counter.js';
import { cancelTask } from './use-cases/cancel-task.js';
import { heartbeatAgent, pauseAgent, resumeAgent, terminateAgent } from './use-cases/change-agent.js';
import { requeueDeadLetterUseCase } from './use-cases/dead-letters.js';
import { registerAgentUseCase } from './use-cases/register-agent.js';
import { submitTaskUseCase, type SubmitRequest } from './use-cases/submit-task.js';
import { completeTask, extendTaskLease, failTask, startTask } from './use-cases/work-task.js';
import { PLAIN } from '../domain/plain.js';

/**
 * Every change to tasks and agents. They run where the queues, leases and agent registry live:
 * on the mesh leader. Other instances send them there (remote-commands.ts); arguments and
 * results are plain JSON.
 */
export interface MeshCommands {
  /** `created: false` when an idempotency key matched an earlier submit (whose task this is). */
  submitTask(caller: Caller, request: SubmitRequest): Promise<TaskOutcome & { created: boolean }>;
  completeTask(caller: Caller, id: string, agentId: string, output: unknown, trace?: TraceContext): Promise<Task>;
  failTask(caller: Caller, id: string, agentId: string, error: TaskError, retryable: boolean, trace?: TraceContext): Promise<Task>;
  /** Complete or fail, answering only where the task stands (the batch route's answer). */
  settleTask(caller: Caller, settlement: Settlement): Promise<TaskOutcome>;
  extendTaskLease(caller: Caller, id: string, agentId: string, leaseMs: number): Promise<Task>;
  cancelTask(caller: Caller, id: string): Promise<Task>;
  requeueDeadLetter(caller: Caller, id: string): Promise<Task>;
  registerAgent(caller: Caller, input: Omit<RegisterAgentInput, 'tenantId' | 'id'> & { id?: string }): Promise<Agent>;
  heartbeatAgent(caller: Caller, id: string): Promise<Agent>;
  pauseAgent(caller: Caller, id: string): Promise<Agent>;
  resumeAgent(caller: Caller, id: string): Promise<Agent>;
  terminateAgent(caller: Caller, id: string): Promise<Agent>;
  /** An assignment reached its agent: the task is running. The caller checked the agent's key. */
  startTask(tenantId: string, taskId: string, agentId: string, attempt: number): Promise<Task>;
}

/** Where a task stands after a command: what batch answers carry. */
export interface TaskOutcome {
  id: string;
  status: TaskStatus;
  /** Completed at submit from the skill result cache. */
  cached?: boolean;
}

export type Settlement = { taskId: string; agentId: string; traceContext?: TraceContext } & (
  | { outcome: 'completed'; output?: unknown }
  | { outcome: 'failed'; error: TaskError; retryable: boolean }
);

export type MeshCommandName = keyof MeshCommands;

export const MESH_COMMAND_NAMES: readonly MeshCommandName[] = [
  'submitTask',
  'completeTask',
  'failTask',
  'settleTask',
  'extendTaskLease',
  'cancelTask',
  'requeueDeadLetter',
  'registerAgent',
  'heartbeatAgent',
  'pauseAgent',
  'resumeAgent',
  'terminateAgent',
  'startTask',
];

/** The commands run in this process, on its queues and registry. */
export function localCommands(ctx: MeshContext, counter: SubmitCounter): MeshCommands {
  const outcome = (task: Task): TaskOutcome => ({ id: task.id, status: task.status, ...(task.cached === true && { cached: true }) });
  return {
    submitTask: async (caller, request) => {
      const { task, created } = await submitTaskUseCase(ctx, counter, caller, request);
      return { ...PLAIN, ...outcome(task), created };
    },
    completeTask: (caller, id, agentId, output, trace) => completeTask(ctx, caller, id, agentId, output, trace),
    failTask: (caller, id, agentId, error, retryable, trace) => failTask(ctx, caller, id, agentId, error, retryable, trace),
    settleTask: async (caller, s) =>
      outcome(
        s.outcome === 'completed'
          ? await completeTask(ctx, caller, s.taskId, s.agentId, s.output, s.traceContext)
          : await failTask(ctx, caller, s.taskId, s.agentId, s.error, s.retryable, s.traceContext),
      ),
    extendTaskLease: (caller, id, agentId, leaseMs) => extendTaskLease(ctx, caller, id, agentId, leaseMs),
    cancelTask: (caller, id) => cancelTask(ctx, caller, id),
    requeueDeadLetter: (caller, id) => requeueDeadLetterUseCase(ctx, caller, id),
    registerAgent: (caller, input) => registerAgentUseCase(ctx, caller, input),
    heartbeatAgent: (caller, id) => heartbeatAgent(ctx, caller, id),
    pauseAgent: (caller, id) => pauseAgent(ctx, caller, id),
    resumeAgent: (caller, id) => resumeAgent(ctx, caller, id),
    terminateAgent: (caller, id) => terminateAgent(ctx, caller, id),
    startTask: (tenantId, taskId, agentId, attempt) => startTask(ctx, tenantId, taskId, agentId, attempt),
  };
}
