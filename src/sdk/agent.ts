import { AgentMeshClient } from './client.js';
import { AgentMeshError, NonRetryableError } from './errors.js';
import { readEvents } from './sse.js';
import type { DeliveredTask } from './types.js';
import { startWorkSpan } from './work-span.js';

export interface TaskContext {
  task: DeliveredTask;
  agentId: string;
  /** Aborted when the agent stops before the handler finished. */
  signal: AbortSignal;
  /** Push the lease out to now + leaseMs (done automatically while the handler runs). */
  extendLease(leaseMs: number): Promise<void>;
  /**
   * The value of a secret the task lists, read from the mesh once per attempt (and recorded in its
   * audit log). Rejects when the task does not list it, or the mesh refuses (404) or has destroyed it (410).
   */
  secret(name: string): Promise<string>;
}

export type TaskHandler = (input: any, context: TaskContext) => Promise<unknown> | unknown;

export interface AgentOptions {
  url: string;
  apiKey: string;
  name: string;
  /** Names, or names with proficiency 1-5. Handlers must exist for each before start(). */
  capabilities: Array<string | { name: string; proficiency?: number }>;
  id?: string;
  description?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  maxConcurrentTasks?: number;
  heartbeatIntervalMs?: number;
  /** 'stream' (Server-Sent Events, the default) or 'poll' (long polling). */
  transport?: 'stream' | 'poll';
  fetch?: typeof fetch;
  /** Default true: outcomes of tasks that finish in the same tick are reported in one request. */
  batching?: boolean;
  onError?: (error: unknown) => void;
}

/** Reads each secret of one attempt once; a failed read is tried again on the next call. */
function secretReader(client: AgentMeshClient, task: DeliveredTask): (name: string) => Promise<string> {
  const reads = new Map<string, Promise<string>>();
  return (name) => {
    if (!(task.secrets ?? []).includes(name)) {
      return Promise.reject(new NonRetryableError(`task ${task.id} does not list secret '${name}': name it in the task's secrets when submitting`, 'secret_not_listed'));
    }
    let read = reads.get(name);
    if (read === undefined) {
      read = client.taskSecret(task.id, name).then(
        (secret) => secret.value,
        (error: unknown) => {
          // Its tenant key was destroyed: no attempt of the task will ever read it.
          if (error instanceof AgentMeshError && error.status === 410) throw new NonRetryableError(error.message, 'secret_destroyed');
          throw error;
        },
      );
      read.catch(() => reads.delete(name));
      reads.set(name, read);
    }
    return read;
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/** Retries a settle call on network errors and 429/5xx; other answers (409: lease lost) are final. */
async function withRetry<T>(work: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (error) {
      const retryable = !(error instanceof AgentMeshError) || error.retryable;
      if (!retryable || i >= attempts) throw error;
      await sleep(Math.random() * Math.min(5000, 100 * 2 ** i));
    }
  }
}

/**
 * A worker that joins the mesh: registers, heartbeats, receives tasks for its capabilities,
 * runs the handlers, reports results, extends leases of long work, and leaves cleanly on stop().
 */
export class Agent {
  readonly client: AgentMeshClient;
  private readonly handlers = new Map<string, TaskHandler>();
  /** Running attempts, by task id and attempt. */
  private readonly inFlight = new Map<string, AbortController>();
  private readonly stopping = new AbortController();
  /** Aborted on stop(), or when the mesh refuses the agent for good. */
  private readonly receiving = new AbortController();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private agentId: string | undefined;
  completed = 0;
  failed = 0;

  constructor(private readonly options: AgentOptions) {
    this.client = new AgentMeshClient({
      url: options.url,
      apiKey: options.apiKey,
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.batching !== undefined && { batching: options.batching }),
    });
  }

  get id(): string {
    if (!this.agentId) throw new Error('the agent has not started');
    return this.agentId;
  }

  handle(capability: string, handler: TaskHandler): this {
    this.handlers.set(capability, handler);
    return this;
  }

  async start(): Promise<this> {
    const capabilities = this.options.capabilities.map((c) => (typeof c === 'string' ? { name: c } : c));
    const missing = capabilities.filter((c) => !this.handlers.has(c.name)).map((c) => c.name);
    if (missing.length > 0) throw new Error(`no handler for capabilities: ${missing.join(', ')}`);
    const o = this.options;
    const agent = await this.client.registerAgent({
      name: o.name,
      capabilities,
      ...(o.id !== undefined && { id: o.id }),
      ...(o.description !== undefined && { description: o.description }),
      ...(o.tags !== undefined && { tags: o.tags }),
      ...(o.metadata !== undefined && { metadata: o.metadata }),
      ...(o.maxConcurrentTasks !== undefined && { maxConcurrentTasks: o.maxConcurrentTasks }),
    });
    this.agentId = agent.id;
    this.heartbeatTimer = setInterval(() => {
      this.client.heartbeat(agent.id).catch((error: unknown) => {
        if (error instanceof AgentMeshError && [401, 403, 404, 409].includes(error.status)) this.giveUp(error);
        else this.report(error);
      });
    }, o.heartbeatIntervalMs ?? 10_000);
    this.heartbeatTimer.unref();
    // A fatal answer (401 revoked key, 403, 404 agent gone) ends the loop: report it, never crash the process.
    this.loop = ((o.transport ?? 'stream') === 'stream' ? this.streamLoop() : this.pollLoop()).catch((error: unknown) => this.giveUp(error));
    return this;
  }

  private giveUp(error: unknown): void {
    if (this.fatalError !== undefined || this.stopping.signal.aborted) return;
    this.fatalError = error;
    clearInterval(this.heartbeatTimer);
    this.receiving.abort();
    // The mesh will not take their results any more; their leases lapse and the tasks move on.
    for (const controller of this.inFlight.values()) controller.abort();
    this.report(error);
  }

  /** Set when the agent stopped receiving because the mesh refused it (revoked key, agent removed). */
  fatalError: unknown;

  /**
   * Stops taking tasks, lets in-flight ones finish for up to `graceMs`, then leaves the mesh:
   * whatever is still unfinished is handed back to be routed elsewhere (no attempt is used up).
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    this.receiving.abort();
    clearInterval(this.heartbeatTimer);
    await this.loop?.catch(() => undefined);
    const deadline = Date.now() + (options.graceMs ?? 10_000);
    while (this.inFlight.size > 0 && Date.now() < deadline) await sleep(20);
    for (const controller of this.inFlight.values()) controller.abort();
    // After a fatal answer the key or the agent is gone: there is nothing left to leave.
    if (this.agentId && this.fatalError === undefined) await this.client.terminateAgent(this.agentId).catch((error: unknown) => this.report(error));
  }

  private report(error: unknown): void {
    if (this.receiving.signal.aborted && (error as Error)?.name === 'AbortError') return;
    this.options.onError?.(error);
  }

  private async streamLoop(): Promise<void> {
    let backoff = 100;
    while (!this.receiving.signal.aborted) {
      try {
        const response = await this.client.http.raw('GET', `/v1/agents/${encodeURIComponent(this.id)}/stream`, {
          signal: this.receiving.signal,
          headers: { accept: 'text/event-stream' },
        });
        backoff = 100;
        for await (const event of readEvents(response.body!)) {
          if (event.event === 'task') this.dispatch(JSON.parse(event.data) as DeliveredTask);
        }
      } catch (error) {
        if (this.receiving.signal.aborted) return;
        if (error instanceof AgentMeshError && !error.retryable) throw error;
        this.report(error);
      }
      await sleep(backoff, this.receiving.signal);
      backoff = Math.min(5000, backoff * 2);
    }
  }

  private async pollLoop(): Promise<void> {
    const limit = this.options.maxConcurrentTasks ?? 1;
    while (!this.receiving.signal.aborted) {
      if (this.inFlight.size >= limit) {
        await sleep(5, this.receiving.signal);
        continue;
      }
      try {
        const task = await this.client.nextTask(this.id, 20_000, this.receiving.signal);
        if (task) this.dispatch(task);
      } catch (error) {
        if (this.receiving.signal.aborted) return;
        if (error instanceof AgentMeshError && !error.retryable) throw error;
        this.report(error);
        await sleep(500, this.receiving.signal);
      }
    }
  }

  private dispatch(task: DeliveredTask): void {
    // A repeated delivery of the same attempt is dropped; a new attempt runs even while the last
    // one's settlement is still on its way (the mesh may re-route a failed task that quickly).
    const key = `${task.id}#${task.attempt}`;
    if (this.inFlight.has(key)) return;
    const controller = new AbortController();
    this.inFlight.set(key, controller);
    void this.run(task, controller).finally(() => this.inFlight.delete(key));
  }

  private async run(task: DeliveredTask, controller: AbortController): Promise<void> {
    const agentId = this.id;
    const handler = this.handlers.get(task.capability);
    const leaseMs = task.leaseMs;
    // Keep the lease alive while the handler works: renew it every half lease.
    const extender = setInterval(() => {
      this.client.extendLease(task.id, agentId, leaseMs).catch((error: unknown) => this.report(error));
    }, Math.max(50, leaseMs / 2));
    extender.unref();
    controller.signal.addEventListener('abort', () => clearInterval(extender), { once: true });
    const context: TaskContext = {
      task,
      agentId,
      signal: controller.signal,
      extendLease: async (ms) => void (await this.client.extendLease(task.id, agentId, ms)),
      secret: secretReader(this.client, task),
    };
    let outcome: { ok: true; output: unknown } | { ok: false; error: unknown };
    const work = startWorkSpan(task, agentId);
    try {
      if (!handler) throw new NonRetryableError(`no handler for capability '${task.capability}'`, 'no_handler');
      outcome = { ok: true, output: await work.run(() => handler(task.input, context)) };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      clearInterval(extender);
    }
    work.end(outcome.ok ? undefined : outcome.error);
    if (controller.signal.aborted) return;
    // Without tracing in this process, the settlement carries the delivery's trace as it came.
    const trace = work.carrier ?? (task.traceparent !== undefined ? { traceparent: task.traceparent, ...(task.tracestate !== undefined && { tracestate: task.tracestate }) } : {});
    try {
      if (outcome.ok) {
        const output = outcome.output ?? null;
        await withRetry(() => this.client.settle({ taskId: task.id, agentId, outcome: 'completed', output, ...trace }));
        this.completed++;
      } else {
        const { error } = outcome;
        const retryable = !(error instanceof NonRetryableError);
        const message = error instanceof Error ? error.message : String(error);
        const code = error instanceof NonRetryableError ? error.code : undefined;
        const taskError = { message, ...(code !== undefined && { code }) };
        await withRetry(() => this.client.settle({ taskId: task.id, agentId, outcome: 'failed', error: taskError, retryable, ...trace }));
        this.failed++;
      }
    } catch (settleError) {
      // 409: the lease moved on (expired, agent marked lost); the mesh has re-routed the task.
      this.report(settleError);
    }
  }
}
