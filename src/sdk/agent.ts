import { AgentMeshClient, type Settlement } from './client.js';
import { AgentMeshError, NonRetryableError } from './errors.js';
import { LeaseKeeper } from './lease-keeper.js';
import { follow } from './signals.js';
import { Backoff, isAbort, RETRY_DEFAULTS, retryAfterOf, sleep, type RetryOptions } from './retry.js';
import { pathSegment } from './path.js';
import { readEvents } from './sse.js';
import type { DeliveredTask } from './types.js';
import { startWorkSpan } from './work-span.js';

export interface TaskContext {
  task: DeliveredTask;
  agentId: string;
  /**
   * Aborted when the agent stops before the handler finished, or when the mesh answers a lease
   * renewal that the task is no longer this agent's (canceled, past its deadline, its lease moved
   * on): then the reason is a TaskWithdrawnError, and what the handler returns is not sent.
   */
  signal: AbortSignal;
  /** Push the lease out to now + leaseMs (done automatically while the handler runs). */
  extendLease(leaseMs: number): Promise<void>;
  /**
   * The value of a secret the task lists, read from the mesh once per attempt (and recorded in its
   * audit log). Rejects when the task does not list it, or the mesh refuses (404) or has destroyed it (410).
   */
  secret(name: string): Promise<string>;
}

/** What the agent was doing when it met an error it reports. */
export interface AgentErrorContext {
  /** heartbeat, receive (the stream or a long poll), renew (a task's lease), settle (complete or fail), or leave (stop's DELETE). */
  operation: 'heartbeat' | 'receive' | 'renew' | 'settle' | 'leave';
  taskId?: string;
  /** The error made the agent give up (see fatalError). */
  fatal?: true;
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
  /**
   * How the agent's requests are retried (settlements up to `settleMaxAttempts` tries), and the
   * backoff of its reconnects (`initialDelayMs`, `maxDelayMs`, `maxRetryAfterMs`). `false`: no
   * request is retried (the receive loop still reconnects, with the default backoff).
   */
  retry?: RetryOptions | false;
  /** Longest wait for one try of a request, in ms (a long poll's own wait comes on top). Default 30000; 0: no limit. */
  timeoutMs?: number;
  /**
   * The stream is taken for dead, and reconnected, after this long without a byte (the mesh sends
   * a keepalive at least every 15 s). Default 45000; 0: never.
   */
  streamIdleTimeoutMs?: number;
  /** Errors the agent handles by itself, with what it was doing (and for which task) when it met them. */
  onError?: (error: unknown, context: AgentErrorContext) => void;
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

/** A connection that lasted this long was healthy: the next reconnect starts from the smallest backoff again. */
const HEALTHY_CONNECTION_MS = 1_000;
/** What the mesh keeps of a failure (`POST /v1/tasks/{id}/fail`). */
const MAX_ERROR_MESSAGE_CHARS = 8192;
const MAX_ERROR_CODE_CHARS = 128;

/** What a settlement says of an attempt, without naming the task, the agent or the trace (each form of it). */
type Result = Settlement extends infer S ? (S extends unknown ? Omit<S, 'taskId' | 'agentId' | 'traceparent' | 'tracestate'> : never) : never;

/** A handler's error as the mesh keeps it: cut to its bounds (longer, the whole failure would be refused); retryable unless it says otherwise. */
function failureOf(error: unknown): Extract<Result, { outcome: 'failed' }> {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_MESSAGE_CHARS);
  // Any error's code is kept (a NonRetryableError's, Node's `ECONNRESET`), retryable or not.
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' && raw !== '' ? raw.slice(0, MAX_ERROR_CODE_CHARS) : undefined;
  return { outcome: 'failed', error: { message, ...(code !== undefined && { code }) }, retryable: !(error instanceof NonRetryableError) };
}

/**
 * A handler's output as the mesh keeps it; one that is not JSON (a BigInt, a cycle) fails the task at
 * once, saying why, rather than leave it unsettled until its lease lapses at every attempt.
 */
function completionOf(output: unknown): Result {
  try {
    JSON.stringify(output);
  } catch (error) {
    return { outcome: 'failed', error: { message: `the handler's output is not JSON: ${(error as Error).message}`.slice(0, MAX_ERROR_MESSAGE_CHARS), code: 'output_not_json' }, retryable: false };
  }
  return { outcome: 'completed', output: output ?? null };
}

/** The mesh refused what was sent (400, 413), not the moment: sent again, it would be refused again. */
const isRefusal = (error: unknown): error is AgentMeshError => error instanceof AgentMeshError && (error.status === 400 || error.status === 413);

/** Attempts settled lately, so that a late redelivery of one does not run its handler again. */
const REMEMBERED_ATTEMPTS = 10_000;
const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 45_000;

/** The newest `limit` keys. */
class BoundedSet {
  private readonly keys = new Set<string>();
  constructor(private readonly limit: number) {}
  has(key: string): boolean {
    return this.keys.has(key);
  }
  /** False when the key was there already. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.limit) this.keys.delete(this.keys.values().next().value!);
    return true;
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
  /** Attempts (`id#attempt`) this agent has settled: a redelivery of one is dropped. */
  private readonly settled = new BoundedSet(REMEMBERED_ATTEMPTS);
  /** Tasks this agent has completed: `completed` counts each once (two attempts of one task may both be answered "completed"). */
  private readonly completedTasks = new BoundedSet(REMEMBERED_ATTEMPTS);
  /** Backoff of the receive loop's reconnects. */
  private readonly reconnect: Backoff;
  private readonly stopping = new AbortController();
  /** Aborted on stop(), or when the mesh refuses the agent for good. */
  private readonly receiving = new AbortController();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private agentId: string | undefined;
  /** start() was called and has not failed: a second call would register a second agent. */
  private started = false;
  completed = 0;
  failed = 0;

  constructor(private readonly options: AgentOptions) {
    this.client = new AgentMeshClient({
      url: options.url,
      apiKey: options.apiKey,
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.batching !== undefined && { batching: options.batching }),
      ...(options.retry !== undefined && { retry: options.retry }),
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    });
    this.reconnect = new Backoff(this.client.http.retrier.settings ?? RETRY_DEFAULTS);
  }

  get id(): string {
    if (!this.agentId) throw new Error('the agent has not started');
    return this.agentId;
  }

  handle(capability: string, handler: TaskHandler): this {
    if (!this.capabilities.some((c) => c.name === capability)) {
      throw new TypeError(`handle('${capability}'): the agent's capabilities do not list it (${this.capabilities.map((c) => c.name).join(', ')})`);
    }
    this.handlers.set(capability, handler);
    return this;
  }

  async start(): Promise<this> {
    if (this.stopping.signal.aborted) throw new Error('a stopped Agent cannot be started again: make a new one');
    if (this.started) throw new Error('the agent is started already');
    const capabilities = this.capabilities;
    const missing = capabilities.filter((c) => !this.handlers.has(c.name)).map((c) => c.name);
    if (missing.length > 0) throw new Error(`no handler for capabilities: ${missing.join(', ')}`);
    this.started = true;
    try {
      await this.join(capabilities);
    } catch (error) {
      // Not registered: it may be started again.
      this.started = false;
      throw error;
    }
    return this;
  }

  private get capabilities(): Array<{ name: string; proficiency?: number }> {
    return this.options.capabilities.map((c) => (typeof c === 'string' ? { name: c } : c));
  }

  private async join(capabilities: Array<{ name: string; proficiency?: number }>): Promise<void> {
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
      // One try: the next beat is the retry.
      this.client.heartbeat(agent.id, { retry: false }).catch((error: unknown) => {
        if (error instanceof AgentMeshError && [401, 403, 404, 409].includes(error.status)) this.giveUp(error, 'heartbeat');
        else this.report(error, { operation: 'heartbeat' });
      });
    }, o.heartbeatIntervalMs ?? 10_000);
    this.heartbeatTimer.unref();
    // A fatal answer (401 revoked key, 403, 404 agent gone) ends the loop: report it, never crash the process.
    this.loop = ((o.transport ?? 'stream') === 'stream' ? this.streamLoop() : this.pollLoop()).catch((error: unknown) => this.giveUp(error, 'receive'));
  }

  private giveUp(error: unknown, operation: AgentErrorContext['operation']): void {
    if (this.fatalError !== undefined || this.stopping.signal.aborted) return;
    this.fatalError = error;
    clearInterval(this.heartbeatTimer);
    this.receiving.abort();
    // The mesh will not take their results any more; their leases lapse and the tasks move on.
    for (const controller of this.inFlight.values()) controller.abort();
    this.report(error, { operation, fatal: true });
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
    if (this.agentId && this.fatalError === undefined) await this.client.terminateAgent(this.agentId).catch((error: unknown) => this.report(error, { operation: 'leave' }));
  }

  private report(error: unknown, context: AgentErrorContext): void {
    if (this.receiving.signal.aborted && isAbort(error)) return;
    this.options.onError?.(error, context);
  }

  /**
   * Server-Sent Events, reconnected after any break with exponential backoff and full jitter
   * (at least the Retry-After of a 503 or 429), from the smallest delay again after a healthy
   * connection. A stream silent for `streamIdleTimeoutMs` (a half-open connection) is reconnected.
   */
  private async streamLoop(): Promise<void> {
    const idleMs = this.options.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
    while (!this.receiving.signal.aborted) {
      const connection = new AbortController();
      const unfollow = follow(this.receiving.signal, connection);
      let idle: NodeJS.Timeout | undefined;
      const touch = () => {
        if (idleMs <= 0) return;
        clearTimeout(idle);
        idle = setTimeout(() => connection.abort(new DOMException(`the task stream was silent for ${idleMs} ms: reconnecting`, 'TimeoutError')), idleMs);
      };
      let openedAt: number | undefined;
      let retryAfterMs: number | undefined;
      try {
        const response = await this.client.http.raw('GET', `/v1/agents/${pathSegment(this.id)}/stream`, {
          signal: connection.signal,
          headers: { accept: 'text/event-stream' },
          retry: false,
        });
        openedAt = Date.now();
        touch();
        for await (const event of readEvents(response.body!, touch)) {
          if (event.event === 'task') this.dispatch(JSON.parse(event.data) as DeliveredTask);
        }
      } catch (error) {
        if (this.receiving.signal.aborted) return;
        if (error instanceof AgentMeshError && !error.retryable) throw error;
        retryAfterMs = retryAfterOf(error);
        // The idle timer's abort surfaces as the body's error: report the timeout itself.
        this.report(connection.signal.aborted ? connection.signal.reason : error, { operation: 'receive' });
      } finally {
        clearTimeout(idle);
        unfollow();
      }
      if (openedAt !== undefined && Date.now() - openedAt >= HEALTHY_CONNECTION_MS) this.reconnect.reset();
      await sleep(this.reconnect.next(retryAfterMs), this.receiving.signal);
    }
  }

  /** Long polls, one at a time while there is room; after an error, the same backoff as the stream's. */
  private async pollLoop(): Promise<void> {
    const limit = this.options.maxConcurrentTasks ?? 1;
    while (!this.receiving.signal.aborted) {
      if (this.inFlight.size >= limit) {
        await sleep(5, this.receiving.signal);
        continue;
      }
      try {
        const task = await this.client.nextTask(this.id, 20_000, this.receiving.signal, { retry: false });
        this.reconnect.reset();
        if (task) this.dispatch(task);
      } catch (error) {
        if (this.receiving.signal.aborted) return;
        if (error instanceof AgentMeshError && !error.retryable) throw error;
        this.report(error, { operation: 'receive' });
        await sleep(this.reconnect.next(retryAfterOf(error)), this.receiving.signal);
      }
    }
  }

  private dispatch(task: DeliveredTask): void {
    // A repeated delivery of the same assignment is dropped, also once it is settled; a new attempt
    // runs even while the last one's settlement is still on its way (the mesh may re-route a
    // failed task that quickly), and so does a requeued dead letter, whose attempts count from 1 again.
    const key = `${task.id}#${task.attempt}#${task.assignedAt}`;
    if (this.inFlight.has(key) || this.settled.has(key)) return;
    const controller = new AbortController();
    this.inFlight.set(key, controller);
    void this.run(task, controller).then(
      (done) => {
        this.inFlight.delete(key);
        if (done) this.settled.add(key);
      },
      () => this.inFlight.delete(key),
    );
  }

  /** Runs one attempt and settles it; true when the mesh has its outcome (or refused it for good). */
  private async run(task: DeliveredTask, controller: AbortController): Promise<boolean> {
    const agentId = this.id;
    const handler = this.handlers.get(task.capability);
    const lease = new LeaseKeeper(this.client, task.id, agentId, task.leaseMs, controller.signal, (error) => this.report(error, { operation: 'renew', taskId: task.id }));
    const context: TaskContext = {
      task,
      agentId,
      signal: lease.signal,
      extendLease: (ms) => lease.extend(ms),
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
      lease.end();
    }
    work.end(outcome.ok ? undefined : outcome.error);
    if (controller.signal.aborted) return false;
    // The mesh has moved on (the task was withdrawn): a settlement would only be refused.
    if (lease.signal.aborted) return true;
    // Without tracing in this process, the settlement carries the delivery's trace as it came.
    const trace = work.carrier ?? (task.traceparent !== undefined ? { traceparent: task.traceparent, ...(task.tracestate !== undefined && { tracestate: task.tracestate }) } : {});
    // Retried by the client as far as is safe (see AgentMeshClient#settle); stop() cuts it short after its grace.
    const signal = { signal: controller.signal };
    const settle = (result: Result) => this.client.settle({ taskId: task.id, agentId, ...result, ...trace }, signal);
    const result: Result = outcome.ok ? completionOf(outcome.output) : failureOf(outcome.error);
    try {
      try {
        await settle(result);
      } catch (refused) {
        if (!isRefusal(refused)) throw refused;
        // What the mesh refused (an output too large, a NUL character) it would refuse at every
        // attempt: the task fails now, saying why, rather than wait out its lease.
        this.report(refused, { operation: 'settle', taskId: task.id });
        const what = result.outcome === 'completed' ? 'output' : 'error';
        await settle({ outcome: 'failed', error: { message: `the mesh refused the handler's ${what}: ${refused.message}`, code: `${what}_refused` }, retryable: result.outcome === 'failed' && result.retryable });
        this.failed++;
        return true;
      }
      // An earlier attempt's completion may have landed while this one ran here too: the mesh
      // answers the repeat with the completed task, and it is still one task completed.
      if (result.outcome === 'failed') this.failed++;
      else if (this.completedTasks.add(task.id)) this.completed++;
      return true;
    } catch (settleError) {
      // 409: the lease moved on (expired, agent marked lost); the mesh has re-routed the task.
      if (!(controller.signal.aborted && isAbort(settleError))) this.report(settleError, { operation: 'settle', taskId: task.id });
      // An answer is final; after a network error the same attempt may come again, and may be run again.
      return settleError instanceof AgentMeshError && !settleError.retryable;
    }
  }
}
