import type {
  AgentCard,
  CancelTaskRequest,
  DeleteTaskPushNotificationConfigRequest,
  GetTaskPushNotificationConfigRequest,
  GetTaskRequest,
  ListTaskPushNotificationConfigsRequest,
  ListTaskPushNotificationConfigsResponse,
  ListTasksResponse,
  Message,
  SendMessageRequest,
  StreamResponse,
  SubscribeToTaskRequest,
  Task as A2ATask,
  TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import { A2AError, PushNotificationNotSupportedError, RequestMalformedError, TaskNotCancelableError, TaskNotFoundError, UnsupportedOperationError } from '@a2a-js/sdk/errors';
import type { A2ARequestHandler } from '@a2a-js/sdk/server';
import type { Caller } from '../../application/caller.js';
import type { Mesh } from '../../application/mesh.js';
import { getTask, MAX_WAIT_MS } from '../../application/use-cases/query-tasks.js';
import { AuditAction, DomainError, isTerminal, type Task } from '../../domain/index.js';
import { statusOf, type AuditedChange } from '../api/audited-routes.js';
import { httpStatusOf, REFUSED_TEXT_DETAIL, refusedText } from '../api/plugins/problem-details.js';
import { submitRequestOf } from './message-input.js';
import { artifactUpdate, outputArtifact, statusUpdate, taskEvent, toA2ATask } from './task-mapping.js';
import { PLAIN } from '../../domain/plain.js';

export interface MeshA2AOptions {
  /** The caller's agent card (skills: its tenant's live capabilities). */
  card(): Promise<AgentCard>;
  /** The capabilities of the tenant's live agents: the default skill when there is only one. */
  skills(): Promise<string[]>;
  /** How long a stream waits for a change before it looks again (a settlement wakes it at once). */
  streamPollMs: number;
  /** The caller hung up, or the server is going down: streams end. */
  signal: AbortSignal;
}

type Attempt = Omit<AuditedChange, 'status'>;

/**
 * A2A requests of one caller, served by the mesh: a message becomes a task routed to one of the
 * tenant's agents, and A2A tasks are mesh tasks seen through task-mapping.ts. Errors about the
 * request become A2A errors; those about the caller or the mesh's capacity (401, 403, 429, 503)
 * are kept in `httpError`, to be answered over HTTP as every other route answers them.
 * `audit` collects what the request changed or was refused, for the audit log.
 */
export class MeshA2AHandler implements A2ARequestHandler {
  readonly audit: AuditedChange[] = [];
  httpError: DomainError | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly caller: Caller,
    private readonly options: MeshA2AOptions,
  ) {}

  getAgentCard(): Promise<AgentCard> {
    return this.options.card();
  }

  getAuthenticatedExtendedAgentCard(): Promise<AgentCard> {
    return this.options.card();
  }

  async sendMessage(params: SendMessageRequest): Promise<Message | A2ATask> {
    const task = await this.submit(params, 'SendMessage');
    if (params.configuration?.returnImmediately === true || isTerminal(task)) return toA2ATask(task);
    // Blocking: until it settles, or for the longest wait the mesh allows (then as it stands).
    return toA2ATask(await this.read(task.id, MAX_WAIT_MS, 'SendMessage'));
  }

  async *sendMessageStream(params: SendMessageRequest): AsyncGenerator<StreamResponse, void, undefined> {
    yield* this.follow(await this.submit(params, 'SendStreamingMessage'), 'SendStreamingMessage');
  }

  async *resubscribe(params: SubscribeToTaskRequest): AsyncGenerator<StreamResponse, void, undefined> {
    yield* this.follow(await this.read(params.id, 0, 'SubscribeToTask'), 'SubscribeToTask');
  }

  async getTask(params: GetTaskRequest): Promise<A2ATask> {
    return toA2ATask(await this.read(params.id, 0, 'GetTask'));
  }

  async cancelTask(params: CancelTaskRequest): Promise<A2ATask> {
    const attempt: Attempt = { action: AuditAction.TASK_CANCELLED, resourceType: 'task', resourceId: params.id, details: { via: 'a2a', method: 'CancelTask' } };
    const task = await this.guard(attempt, () => this.mesh.commands.cancelTask(this.caller, params.id));
    this.audit.push({ ...PLAIN, ...attempt, status: statusOf(200) });
    return toA2ATask(task);
  }

  async listTasks(): Promise<ListTasksResponse> {
    throw new UnsupportedOperationError('ListTasks is not supported: list tasks with GET /v1/tasks');
  }

  async createTaskPushNotificationConfig(): Promise<TaskPushNotificationConfig> {
    throw new PushNotificationNotSupportedError();
  }

  async getTaskPushNotificationConfig(_params: GetTaskPushNotificationConfigRequest): Promise<TaskPushNotificationConfig> {
    throw new PushNotificationNotSupportedError();
  }

  async listTaskPushNotificationConfigs(_params: ListTaskPushNotificationConfigsRequest): Promise<ListTaskPushNotificationConfigsResponse> {
    throw new PushNotificationNotSupportedError();
  }

  async deleteTaskPushNotificationConfig(_params: DeleteTaskPushNotificationConfigRequest): Promise<void> {
    throw new PushNotificationNotSupportedError();
  }

  private async submit(params: SendMessageRequest, method: string): Promise<Task> {
    const attempt: Attempt = { action: AuditAction.TASK_SUBMITTED, resourceType: 'task', details: { via: 'a2a', method } };
    return this.guard(attempt, async () => {
      const request = await submitRequestOf(params, this.options.skills);
      const submitted = await this.mesh.commands.submitTask(this.caller, request);
      this.audit.push({ ...PLAIN, ...attempt, resourceId: submitted.id, status: statusOf(submitted.created ? 202 : 200), details: { via: 'a2a', method, capability: request.capability } });
      return getTask(this.mesh.ctx, this.caller, submitted.id);
    });
  }

  /** `method`: the A2A method the read serves, named in the entry of a refusal. */
  private read(id: string, waitMs: number, method: string): Promise<Task> {
    const attempt: Attempt = { action: AuditAction.UNAUTHORIZED_ACCESS, resourceType: 'task', resourceId: id, details: { via: 'a2a', method } };
    return this.guard(attempt, () => getTask(this.mesh.ctx, this.caller, id, waitMs));
  }

  /** The task, then each change of its mesh status, then (when it completes) its output, and its final status. */
  private async *follow(first: Task, method: string): AsyncGenerator<StreamResponse, void, undefined> {
    yield taskEvent(first);
    let last = first;
    while (!isTerminal(last) && !this.options.signal.aborted) {
      const next = await this.read(last.id, this.options.streamPollMs, method);
      // A lease extension changes the task, not where it stands.
      const moved = next.status !== last.status || next.attempts !== last.attempts;
      last = next;
      if (!moved) continue;
      const artifact = outputArtifact(next);
      if (artifact) yield artifactUpdate(next, artifact);
      yield statusUpdate(next);
    }
  }

  /**
   * Runs a mesh call and translates its errors: A2A errors pass as they are; a task the tenant
   * cannot see is "task not found" (and a denied access in the audit log, as on the REST routes);
   * a refused request is "invalid params"; an ended task is "not cancelable".
   */
  private async guard<T>(attempt: Attempt, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof A2AError) {
        this.audit.push({ ...PLAIN, ...attempt, status: statusOf(400), details: { ...PLAIN, ...attempt.details, httpStatus: 400, a2aError: error.name } });
        throw error;
      }
      if (refusedText(error)) {
        this.audit.push({ ...PLAIN, ...attempt, status: statusOf(400), details: { ...PLAIN, ...attempt.details, httpStatus: 400 } });
        throw new RequestMalformedError(REFUSED_TEXT_DETAIL);
      }
      if (!(error instanceof DomainError)) throw error;
      const httpStatus = httpStatusOf(error.code);
      this.audit.push({ ...PLAIN, ...attempt, status: statusOf(httpStatus), details: { ...PLAIN, ...attempt.details, httpStatus, reason: error.message } });
      switch (error.code) {
        case 'not_found':
          throw new TaskNotFoundError(`task '${attempt.resourceId ?? ''}' was not found`);
        case 'conflict':
          if (attempt.action === AuditAction.TASK_CANCELLED) throw new TaskNotCancelableError(error.message);
          throw new RequestMalformedError(error.message);
        case 'validation':
        case 'payload_too_large':
          throw new RequestMalformedError(error.message);
        default:
          this.httpError = error;
          throw error;
      }
    }
  }
}
