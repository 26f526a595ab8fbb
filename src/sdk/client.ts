import { Coalescer, type BatchItemReply } from './coalescer.js';
import { Http, type HttpOptions } from './http.js';
import { pathSegment } from './path.js';
import type { Safety } from './retry.js';
import { TERMINAL, type AgentInfo, type DeliveredTask, type Page, type RegisterAgentRequest, type SecretInfo, type SubmitOptions, type Task, type TaskStatus } from './types.js';
import { PLAIN } from '../domain/plain.js';

export interface SubmitResult {
  id: string;
  status: TaskStatus;
  /** false when an idempotency key matched an earlier submit. */
  created: boolean;
  /** true when it completed at once from an identical task's kept result (status completed). */
  cached?: boolean;
}

const MAX_SERVER_WAIT_MS = 60_000;

export interface ClientOptions extends HttpOptions {
  /**
   * Default true: submits made in the same tick leave as one `POST /v1/tasks/batch` (up to 100),
   * and settlements as one `POST /v1/tasks/settle`; a lone call goes as its single request.
   * Results and errors are per call either way.
   */
  batching?: boolean;
  /**
   * `true`: a submit without an `idempotencyKey` is given one (a random UUID), so that it is
   * retried after any failure (a lost answer included) without making a second task. Default
   * `false`, because a key costs the mesh a lookup per task (submits took 2.7 times as long on the
   * embedded store): a submit without a key is retried only when it surely was not applied
   * (connection refused, `429`, `503`).
   */
  idempotencyKeys?: boolean;
}

/** Per call: stop waiting (and retrying) when `signal` aborts. */
export interface CallOptions {
  signal?: AbortSignal;
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

/** What an HTTP header value carries (fetch's ByteString, without control characters), 1 to 256 of them. */
const HEADER_TEXT = /^[\x20-\x7e\xa0-\xff]{1,256}$/u;

/** A client of the mesh: submit tasks and follow them, manage agents, settle tasks as an agent. */
export class AgentMeshClient {
  readonly http: Http;

  private readonly submits: Coalescer<SubmitResult> | undefined;
  private readonly settlements: Coalescer<SettleResult> | undefined;
  private readonly idempotencyKeys: boolean;

  constructor(options: ClientOptions) {
    this.http = new Http(options);
    this.idempotencyKeys = options.idempotencyKeys === true;
    // Batch requests are tried once: each item is retried on its own (by submit and settle), as its own safety allows.
    if (options.batching !== false) {
      this.submits = new Coalescer<SubmitResult>(
        (item) => this.submitOne(item as SubmitItem),
        async (json) => (await this.http.json<{ results: Array<BatchItemReply<SubmitResult>> }>('POST', '/v1/tasks/batch', { bodyJson: `{"tasks":${json}}`, retry: false })).results,
      );
      this.settlements = new Coalescer<SettleResult>(
        (item) => this.settleOne(item as Settlement),
        async (json) => (await this.http.json<{ results: Array<BatchItemReply<SettleResult>> }>('POST', '/v1/tasks/settle', { bodyJson: `{"outcomes":${json}}`, retry: false })).results,
      );
    }
  }

  /**
   * Submits a task. With an idempotency key (yours, or one made for it with `idempotencyKeys`),
   * retried on network errors, timeouts, `429`, `500`, `502`, `503`, `504`: a retry after a lost
   * answer returns the task the first try made. Without one, retried only when surely not applied.
   */
  async submit(capability: string, input: unknown, options: SubmitOptions & CallOptions = {}): Promise<SubmitResult> {
    const { deadline, traceparent, tracestate, idempotencyKey, signal, ...rest } = options;
    // A submit alone sends its key as the Idempotency-Key header: a key takes what a header carries, batched or not.
    if (idempotencyKey !== undefined && !HEADER_TEXT.test(idempotencyKey)) {
      throw new TypeError(`idempotencyKey must be 1-256 characters of visible ASCII or Latin-1 (it travels in the Idempotency-Key header), got ${JSON.stringify(idempotencyKey.slice(0, 40))}`);
    }
    const generated = idempotencyKey === undefined && this.idempotencyKeys;
    const key = generated ? globalThis.crypto.randomUUID() : idempotencyKey;
    const item: SubmitItem = {
      capability,
      input,
      ...rest,
      ...(deadline !== undefined && { deadline: deadline instanceof Date ? deadline.getTime() : deadline }),
      ...(key !== undefined && { idempotencyKey: key }),
    };
    const trace = traceparent !== undefined ? { traceparent, ...(tracestate !== undefined && { tracestate }) } : undefined;
    // A trace context is a header of the whole request: such a submit goes on its own.
    const once = () => (this.submits && !trace ? this.submits.push(item) : this.submitOne(item, trace, signal));
    const result = await this.http.retrier.run(key !== undefined ? 'idempotent' : 'unsafe', once, { operation: 'submit', ...(signal && { signal }) });
    // Our own key made the task on an earlier try of this very call: for the caller, it was created.
    return generated && !result.created ? { ...PLAIN, ...result, created: true } : result;
  }

  private submitOne(item: SubmitItem, trace?: { traceparent: string; tracestate?: string }, signal?: AbortSignal): Promise<SubmitResult> {
    const { idempotencyKey, ...body } = item;
    const headers = { ...PLAIN, ...trace, ...(idempotencyKey !== undefined && { 'idempotency-key': idempotencyKey }) };
    return this.http.json('POST', '/v1/tasks', { body, headers, retry: false, ...(signal && { signal }) });
  }

  /**
   * Reports the outcome of a task an agent holds. Settlements made in the same tick leave as one
   * `POST /v1/tasks/settle`; each call still answers (or fails) on its own, and is retried on its
   * own (up to `retry.settleMaxAttempts` tries) as far as that is safe: a completion and a
   * non-retryable failure always (the mesh answers a repeat with the settled task), a retryable
   * failure only when it surely was not applied.
   */
  settle(settlement: Settlement, options: CallOptions = {}): Promise<SettleResult> {
    const once = () => (this.settlements ? this.settlements.push(settlement) : this.settleOne(settlement, options.signal));
    return this.http.retrier.run(settlementSafety(settlement), once, {
      operation: 'settle',
      maxAttempts: this.http.retrier.settings?.settleMaxAttempts ?? 1,
      ...(options.signal && { signal: options.signal }),
    });
  }

  private async settleOne(s: Settlement, signal?: AbortSignal): Promise<SettleResult> {
    const trace = s.traceparent !== undefined ? { traceparent: s.traceparent, ...(s.tracestate !== undefined && { tracestate: s.tracestate }) } : undefined;
    const headers = trace && { headers: trace };
    const task =
      s.outcome === 'completed'
        ? await this.http.json<Task>('POST', `/v1/tasks/${pathSegment(s.taskId)}/complete`, { body: { agentId: s.agentId, output: s.output }, ...headers, retry: false, ...(signal && { signal }) })
        : await this.http.json<Task>('POST', `/v1/tasks/${pathSegment(s.taskId)}/fail`, {
            body: { agentId: s.agentId, error: s.error, retryable: s.retryable },
            ...headers,
            retry: false,
            ...(signal && { signal }),
          });
    return { id: task.id, status: task.status };
  }

  get<Output = unknown>(id: string, options: { waitMs?: number; signal?: AbortSignal } = {}): Promise<Task<Output>> {
    return this.http.json('GET', `/v1/tasks/${pathSegment(id)}`, {
      query: { waitMs: options.waitMs },
      ...(options.signal && { signal: options.signal }),
      // The server's wait is not the server being slow.
      ...(options.waitMs !== undefined && this.http.timeoutMs > 0 && { timeoutMs: this.http.timeoutMs + options.waitMs }),
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

  /** Idempotent: canceling a canceled task answers it again. */
  cancel(id: string): Promise<Task> {
    return this.http.json('POST', `/v1/tasks/${pathSegment(id)}/cancel`, { retry: 'idempotent' });
  }

  deadLetters(options: { capability?: string; limit?: number; cursor?: string } = {}): Promise<Page<Task>> {
    return this.http.json('GET', '/v1/dead-letters', { query: options });
  }

  /** Not idempotent (a repeat is a `409`): retried only when surely not applied. */
  requeue(id: string): Promise<Task> {
    return this.http.json('POST', `/v1/dead-letters/${pathSegment(id)}/requeue`);
  }

  /** Not idempotent (a repeat of a registration that took effect is a `409`, or a second agent): retried only when surely not applied. */
  registerAgent(request: RegisterAgentRequest): Promise<AgentInfo> {
    return this.http.json('POST', '/v1/agents', { body: request, retry: 'unsafe' });
  }

  getAgent(id: string): Promise<AgentInfo> {
    return this.http.json('GET', `/v1/agents/${pathSegment(id)}`);
  }

  listAgents(filter: { capability?: string; status?: string; limit?: number; cursor?: string } = {}): Promise<Page<AgentInfo>> {
    return this.http.json('GET', '/v1/agents', { query: filter });
  }

  /** `retry: false`: one try (the Agent's timer does so: the next heartbeat is the retry). */
  heartbeat(agentId: string, options: CallOptions & { retry?: false } = {}): Promise<AgentInfo> {
    return this.http.json('POST', `/v1/agents/${pathSegment(agentId)}/heartbeat`, { retry: options.retry ?? 'idempotent', ...(options.signal && { signal: options.signal }) });
  }

  pauseAgent(agentId: string): Promise<AgentInfo> {
    return this.http.json('POST', `/v1/agents/${pathSegment(agentId)}/pause`, { retry: 'idempotent' });
  }

  resumeAgent(agentId: string): Promise<AgentInfo> {
    return this.http.json('POST', `/v1/agents/${pathSegment(agentId)}/resume`, { retry: 'idempotent' });
  }

  terminateAgent(agentId: string): Promise<AgentInfo> {
    return this.http.json('DELETE', `/v1/agents/${pathSegment(agentId)}`);
  }

  /**
   * Long poll for the agent's next task; undefined when none came within waitMs. `retry: false`:
   * one try (the Agent's poll loop has its own backoff).
   */
  nextTask(agentId: string, waitMs: number, signal?: AbortSignal, options: { retry?: false } = {}): Promise<DeliveredTask | undefined> {
    return this.http.json('GET', `/v1/agents/${pathSegment(agentId)}/tasks/next`, {
      query: { waitMs },
      ...(signal && { signal }),
      ...(options.retry === false && { retry: false }),
      ...(this.http.timeoutMs > 0 && { timeoutMs: this.http.timeoutMs + waitMs }),
    });
  }

  /**
   * `trace`: the W3C trace context of the work, sent as headers. Retried like `settle` (a repeated
   * completion by the same agent with the same output is answered with the completed task).
   */
  complete(taskId: string, agentId: string, output: unknown, trace?: { traceparent: string; tracestate?: string }): Promise<Task> {
    return this.http.json('POST', `/v1/tasks/${pathSegment(taskId)}/complete`, { body: { agentId, output }, ...(trace && { headers: trace }), ...this.settleRetry('idempotent') });
  }

  /** A non-retryable failure is retried like a completion; a retryable one only when it surely was not applied. */
  fail(taskId: string, agentId: string, error: { message: string; code?: string }, retryable = true, trace?: { traceparent: string; tracestate?: string }): Promise<Task> {
    return this.http.json('POST', `/v1/tasks/${pathSegment(taskId)}/fail`, {
      body: { agentId, error, retryable },
      ...(trace && { headers: trace }),
      ...this.settleRetry(retryable ? 'unsafe' : 'idempotent'),
    });
  }

  /** Idempotent: the lease is set to now + leaseMs. */
  extendLease(taskId: string, agentId: string, leaseMs: number, options: CallOptions = {}): Promise<Task> {
    return this.http.json('POST', `/v1/tasks/${pathSegment(taskId)}/extend`, { body: { agentId, leaseMs }, retry: 'idempotent', ...(options.signal && { signal: options.signal }) });
  }

  private settleRetry(safety: Safety): { retry: Safety; maxAttempts?: number } {
    const max = this.http.retrier.settings?.settleMaxAttempts;
    return { retry: safety, ...(max !== undefined && { maxAttempts: max }) };
  }

  /** Creates a secret or gives it a new version (and replaces its policy); the value is never shown again. */
  putSecret(name: string, value: string, policy: { capabilities: string[] }, description?: string): Promise<SecretInfo> {
    return this.http.json('PUT', `/v1/secrets/${pathSegment(name)}`, { body: { value, policy, ...(description !== undefined && { description }) } });
  }

  /** A new version; without a value the mesh makes one and returns it (once) in `value`. */
  rotateSecret(name: string, value?: string): Promise<SecretInfo & { value?: string }> {
    return this.http.json('POST', `/v1/secrets/${pathSegment(name)}/rotate`, { body: value !== undefined ? { value } : {} });
  }

  getSecret(name: string): Promise<SecretInfo> {
    return this.http.json('GET', `/v1/secrets/${pathSegment(name)}`);
  }

  listSecrets(options: { limit?: number; cursor?: string } = {}): Promise<Page<SecretInfo>> {
    return this.http.json('GET', '/v1/secrets', { query: options });
  }

  async deleteSecret(name: string): Promise<void> {
    await this.http.json('DELETE', `/v1/secrets/${pathSegment(name)}`);
  }

  /** Crypto-shredding: no secret written so far can be read again. `confirm` repeats the tenant's id. */
  destroyTenantKeys(confirm: string): Promise<{ destroyedKeys: number }> {
    return this.http.json('POST', '/v1/tenant-keys/destroy', { body: { confirm } });
  }

  /** A secret's value for a task the calling agent holds (the agent key of the agent it is assigned to). */
  taskSecret(taskId: string, name: string): Promise<{ name: string; version: number; value: string }> {
    return this.http.json('GET', `/v1/tasks/${pathSegment(taskId)}/secrets/${pathSegment(name)}`);
  }
}

/** A completion and a non-retryable failure are idempotent on the mesh; a retryable failure is not (a repeat of one applied is a 409). */
function settlementSafety(s: Settlement): Safety {
  return s.outcome === 'completed' || !s.retryable ? 'idempotent' : 'unsafe';
}
