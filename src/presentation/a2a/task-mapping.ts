import { Role, TaskState, type Artifact, type Message, type StreamResponse, type Task as A2ATask } from '@a2a-js/sdk';
import type { Task } from '../../domain/index.js';
import { partOf, textPart } from '../../infrastructure/a2a/parts.js';

/** The one artifact a mesh task produces: its output. */
export const OUTPUT_ARTIFACT_ID = 'output';

/**
 * A mesh status as an A2A task state. A queued task that has been tried before is being retried,
 * so it is still `working`; an agent refuses a task for good by failing it, not retryable, with
 * the error code `rejected`.
 */
export function a2aStateOf(task: Pick<Task, 'status' | 'attempts' | 'error'>): TaskState {
  switch (task.status) {
    case 'queued':
      return task.attempts === 0 ? TaskState.TASK_STATE_SUBMITTED : TaskState.TASK_STATE_WORKING;
    case 'assigned':
    case 'running':
      return TaskState.TASK_STATE_WORKING;
    case 'completed':
      return TaskState.TASK_STATE_COMPLETED;
    case 'failed':
      return task.error?.code === 'rejected' ? TaskState.TASK_STATE_REJECTED : TaskState.TASK_STATE_FAILED;
    case 'dead_lettered':
      return TaskState.TASK_STATE_FAILED;
    case 'canceled':
      return TaskState.TASK_STATE_CANCELED;
  }
}

/** A task without an A2A context of its own is its own context. */
export const contextIdOf = (task: Task): string => task.contextId ?? task.id;

/** The agent's word on a task that ended without output: its error, as a message. */
function statusMessage(task: Task): Message | undefined {
  if (task.error === undefined || task.status === 'completed') return undefined;
  return {
    messageId: `${task.id}:status:${task.version}`,
    contextId: contextIdOf(task),
    taskId: task.id,
    role: Role.ROLE_AGENT,
    parts: [textPart(task.error.message)],
    metadata: task.error.code !== undefined ? { code: task.error.code } : undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

/** The output as an artifact: a string as text, anything else as data; none while there is no output. */
export function outputArtifact(task: Task): Artifact | undefined {
  if (task.status !== 'completed' || task.output === undefined || task.output === null) return undefined;
  return {
    artifactId: OUTPUT_ARTIFACT_ID,
    name: 'output',
    description: `output of the ${task.capability} task`,
    parts: [partOf(task.output)],
    metadata: undefined,
    extensions: [],
  };
}

export function a2aStatusOf(task: Task): A2ATask['status'] {
  return { state: a2aStateOf(task), message: statusMessage(task), timestamp: new Date(task.updatedAt).toISOString() };
}

/** A mesh task as an A2A task. The mesh keeps no message history: `history` is empty. */
export function toA2ATask(task: Task): A2ATask {
  const artifact = outputArtifact(task);
  return {
    id: task.id,
    contextId: contextIdOf(task),
    status: a2aStatusOf(task),
    artifacts: artifact ? [artifact] : [],
    history: [],
    metadata: {
      agentmesh: { status: task.status, capability: task.capability, attempts: task.attempts, ...(task.agentId !== undefined && { agentId: task.agentId }) },
    },
  };
}

export function statusUpdate(task: Task): StreamResponse {
  return { payload: { $case: 'statusUpdate', value: { taskId: task.id, contextId: contextIdOf(task), status: a2aStatusOf(task), metadata: undefined } } };
}

export function artifactUpdate(task: Task, artifact: Artifact): StreamResponse {
  return { payload: { $case: 'artifactUpdate', value: { taskId: task.id, contextId: contextIdOf(task), artifact, append: false, lastChunk: true, metadata: undefined } } };
}

export function taskEvent(task: Task): StreamResponse {
  return { payload: { $case: 'task', value: toA2ATask(task) } };
}
