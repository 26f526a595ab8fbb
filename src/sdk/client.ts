import { Coalescer, type BatchItemReply } from './coalescer.js';
import { Http, type HttpOptions } from './http.js';
import { TERMINAL, type AgentInfo, type DeliveredTask, type Page, type RegisterAgentRequest, type SecretInfo, type SubmitOptions, type Task, type TaskStatus } from './types.js';

export interface SubmitResult {
  id: string;
  status: TaskStatus;
  /** false when an idempotency key matched an earlier submit. */
  created: boolean;
}

const MAX_SERVER_WAIT_MS = 60_000;

export interface ClientOptions extends HttpOptions {
  /**
   * Default true: submits made in the same tick leave as one `POST /v1/tasks/batch` (up to 100),
   * and settlements as one `POST /v1/tasks/settle`; a lone call goes as its single request.
   * Results and errors are per call either way.
   */
  batching?: boolean;
}

/** What an agent reports for a task it holds, alone or in a batch. */
/** `traceparent`/`tracestate`: the W3C trace context of the work, so that the settlement joins its trace. */
export type Settlement = { taskId: string; agentId: string; traceparent?: string; tracestate?: string } & (
  | { outcome: 'completed'; output: unknown }
  | { outcome: 'failed'; error: { message: string; code?: string }; retryable: boolean }
);

export interface SettleResult {
  id: string;
  status: TaskStatus;
}

interface SubmitItem {
  capability: string;
  input: unknown;
  idempotencyKey?: string;
  [option: string]: unknown;
}

/** A client of the mesh: submit tasks and follow them, manage agents, settle tasks as an agent. */
export class AgentMeshClient {
  readonly http: Http;

  private readonly submits: Coalescer<SubmitResult> | undefined;
  private readonly settlements: Coalescer<SettleResult> | undefined;

  constructor(options: ClientOptions) {
    this.http = new Http(options);
    if (options.batching !== false) {
      this.submits = new Coalescer<SubmitResult>(
        (item) => this.submitOne(item as SubmitItem),
        async (json) => (await this.http.json<{ results: Array<BatchItemReply<SubmitResult>> }>('POST', '/v1/tasks/batch', { bodyJson: `{"tasks":${json}}` })).results,
      );
      this.settlements = new Coalescer<SettleResult>(
        (item) => this.settleOne(item as Settlement),
        async (json) => (await this.http.json<{ results: Array<BatchItemReply<SettleResult>> }>('POST', '/v1/tasks/settle', { bodyJson: `{"outcomes":${json}}` })).results,
      );
    }
  }

  submit(capability: string, input: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
    const { deadline, traceparent, tracestate, ...rest } = options;
    const item: SubmitItem = {
      capability,
      input,
      ...rest,
      ...(deadline !== undefined && { deadline: deadline instanceof Date ? deadline.getTime() : deadline }),
    };
    const trace = traceparent !== undefined ? { traceparent, ...(tracestate !== undefined && { tracestate }) } : undefined;
    // A trace context is a header of the whole request: such a submit goes on its own.
    return this.submits && !trace ? this.submits.push(item) : this.submitOne(item, trace);
  }

  private submitOne(item: SubmitItem, trace?: { traceparent: string; tracestate?: string }): Promise<SubmitResult> {
    const { idempotencyKey, ...body } = item;
    const headers = { ...trace, ...(idempotencyKey !== undefined && { 'idempotency-key': idempotencyKey }) };
    return this.http.json('POST', '/v1/tasks', { body, headers });
  }

  /**
   * Reports the outcome of a task an agent holds. Settlements made in the same tick leave as one
   * `POST /v1/tasks/settle`; each call still answers (or fails) on its own.
   */
  settle(settlement: Settlement): Promise<SettleResult> {
    return this.settlements ? this.settlements.push(settlement) : this.settleOne(settlement);
  }

  private async settleOne(s: Settlement): Promise<SettleResult> {
    const trace = s.traceparent !== undefined ? { traceparent: s.traceparent, ...(s.tracestate !== undefined && { tracestate: s.tracestate }) } : undefined;
    const task = s.outcome === 'completed' ? await this.complete(s.taskId, s.agentId, s.output, trace) : await this.fail(s.taskId, s.agentId, s.error, s.retryable, trace);
    return { id: task.id, status: task.status };
  }

  get<Output = unknown>(id: string, options: { waitMs?: number; signal?: AbortSignal } = {}): Promise<Task<Output>> {
    return this.http.json('GET', `/v1/tasks/${encodeURIComponent(id)}`, {
      query: { waitMs: options.waitMs },
      ...(options.signal && { signal: options.signal }),
    });
  }

  /** Waits (with server-side long polls) until the task settles or `timeoutMs` passes; returns the task either way. */
  async waitForResult<Output = unknown>(id: string, options: { timeoutMs?: number } = {}): Promise<Task<Output>> {
    const until = Date.now() + (options.timeoutMs ?? 5 * 60_000);
    for (;;) {
      const remaining = until - Date.now();
      const task = await this.get<Output>(id, { waitMs: Math.max(0, Math.min(MAX_SERVER_WAIT_MS, remaining)) });
      if (TERMINAL.has(task.status) || Date.now() >= until) return task;
    }
  }

  /** Submit and wait for the result in one call. */
  async run<Output = unknown>(capability: string, input: unknown, options: SubmitOptions & { timeoutMs?: number } = {}): Promise<Task<Output>> {
    const { timeoutMs, ...submitOptions } = options;
    const { id } = await this.submit(capability, input, submitOptions);
    return this.waitForResult<Output>(id, timeoutMs !== undefined ? { timeoutMs } : {});
  }

  list(filter: { status?: TaskStatus; capability?: string; agentId?: string; limit?: number; cursor?: string } = {}): Promise<Page<Task>> {
    return this.http.json('GET', '/v1/tasks', { query: filter });
  }

  cancel(id: string): Promise<Task> {
    return this.http.json('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`);
  }

  deadLetters(options: { capability?: string; limit?: number; cursor?: string } = {}): Promise<Page<Task>> {
    return this.http.json('GET', '/v1/dead-letters', { query: options });
  }

  requeue(id: string): Promise<Task> {
    return this.http.json('POST', `/v1/dead-letters/${encodeURIComponent(id)}/requeue`);
  }

  registerAgent(request: RegisterAgentRequest): Promise<AgentInfo> {
    return this.http.json('POST', '/v1/agents', { body: request });
  }

  getAgent(id: string): Promise<AgentInfo> {
    return this.http.json('GET', `/v1/agents/${encodeURIComponent(id)}`);
  }

  listAgents(filter: { capability?: string; status?: string; limit?: number; cursor?: string } = {}): Promise<Page<AgentInfo>> {
    return this.http.json('GET', '/v1/agents', { query: filter });
  }

  heartbeat(agentId: string): Promise<AgentInfo> {
    return this.http.json('POST', `/v1/agents/${encodeURIComponent(agentId)}/heartbeat`);
  }

  pauseAgent(agentId: string): Promise<AgentInfo> {
    return this.http.json('POST', `/v1/agents/${encodeURIComponent(agentId)}/pause`);
  }

  resumeAgent(agentId: string): Promise<AgentInfo> {
    return this.http.json('POST', `/v1/agents/${encodeURIComponent(agentId)}/resume`);
  }

  terminateAgent(agentId: string): Promise<AgentInfo> {
    return this.http.json('DELETE', `/v1/agents/${encodeURIComponent(agentId)}`);
  }

  /** Long poll for the agent's next task; undefined when none came within waitMs. */
  nextTask(agentId: string, waitMs: number, signal?: AbortSignal): Promise<DeliveredTask | undefined> {
    return this.http.json('GET', `/v1/agents/${encodeURIComponent(agentId)}/tasks/next`, { query: { waitMs }, ...(signal && { signal }) });
  }

  /** `trace`: the W3C trace context of the work, sent as headers. */
  complete(taskId: string, agentId: string, output: unknown, trace?: { traceparent: string; tracestate?: string }): Promise<Task> {
    return this.http.json('POST', `/v1/tasks/${encodeURIComponent(taskId)}/complete`, { body: { agentId, output }, ...(trace && { headers: trace }) });
  }

  fail(taskId: string, agentId: string, error: { message: string; code?: string }, retryable = true, trace?: { traceparent: string; tracestate?: string }): Promise<Task> {
    return this.http.json('POST', `/v1/tasks/${encodeURIComponent(taskId)}/fail`, { body: { agentId, error, retryable }, ...(trace && { headers: trace }) });
  }

  extendLease(taskId: string, agentId: string, leaseMs: number): Promise<Task> {
    return this.http.json('POST', `/v1/tasks/${encodeURIComponent(taskId)}/extend`, { body: { agentId, leaseMs } });
  }

  /** Creates a secret or gives it a new version (and replaces its policy); the value is never shown again. */
  putSecret(name: string, value: string, policy: { capabilities: string[] }, description?: string): Promise<SecretInfo> {
    return this.http.json('PUT', `/v1/secrets/${encodeURIComponent(name)}`, { body: { value, policy, ...(description !== undefined && { description }) } });
  }

  /** A new version; without a value the mesh makes one and returns it (once) in `value`. */
  rotateSecret(name: string, value?: string): Promise<SecretInfo & { value?: string }> {
    return this.http.json('POST', `/v1/secrets/${encodeURIComponent(name)}/rotate`, { body: value !== undefined ? { value } : {} });
  }

  getSecret(name: string): Promise<SecretInfo> {
    return this.http.json('GET', `/v1/secrets/${encodeURIComponent(name)}`);
  }

  listSecrets(options: { limit?: number; cursor?: string } = {}): Promise<Page<SecretInfo>> {
    return this.http.json('GET', '/v1/secrets', { query: options });
  }

  async deleteSecret(name: string): Promise<void> {
    await this.http.json('DELETE', `/v1/secrets/${encodeURIComponent(name)}`);
  }

  /** Crypto-shredding: no secret written so far can be read again. `confirm` repeats the tenant's id. */
  destroyTenantKeys(confirm: string): Promise<{ destroyedKeys: number }> {
    return this.http.json('POST', '/v1/tenant-keys/destroy', { body: { confirm } });
  }

  /** A secret's value for a task the calling agent holds (the agent key of the agent it is assigned to). */
  taskSecret(taskId: string, name: string): Promise<{ name: string; version: number; value: string }> {
    return this.http.json('GET', `/v1/tasks/${encodeURIComponent(taskId)}/secrets/${encodeURIComponent(name)}`);
  }
}
