import type { DomainEvent, TaskEventType } from './events.js';
import type { TraceContext } from './trace-context.js';
import { ConflictError, InvalidStateError, LeaseNotHeldError, ValidationError } from './errors.js';
import { taskSecrets } from './secret.js';
import { assertIdentifier, assertIntegerInRange, assertJsonWithin, assertName, assertStorableText, jsonEqual } from './validation.js';
import { PLAIN } from './plain.js';

export type TaskStatus = 'queued' | 'assigned' | 'running' | 'completed' | 'failed' | 'dead_lettered' | 'canceled';

export const ROUTING_STRATEGIES = [
  'round_robin',
  'least_loaded',
  'load_balanced',
  'least_connections',
  'capability_based',
  'affinity',
  'priority',
  'broadcast',
] as const;
export type RoutingStrategy = (typeof ROUTING_STRATEGIES)[number];

export interface TaskRouting {
  strategy: RoutingStrategy;
  affinityKey?: string;
}

export interface TaskError {
  message: string;
  code?: string;
  retryable?: boolean;
}

/** A task's result may be kept for identical tasks (same tenant, capability, and input or key) for `ttlSeconds`. */
export interface TaskCachePolicy {
  ttlSeconds: number;
  /** Identifies the result instead of the input: tasks with one key share one result. */
  key?: string;
}

export const MAX_RESULT_TTL_SECONDS = 86_400;

/** The latest time a JavaScript Date can hold (ECMAScript's time value range): a later deadline is no date at all. */
const LATEST_DATE_MS = 8.64e15;

export interface Task {
  id: string;
  tenantId: string;
  capability: string;
  input: unknown;
  priority: number;
  routing: TaskRouting;
  maxAttempts: number;
  leaseMs: number;
  deadline?: number;
  status: TaskStatus;
  attempts: number;
  agentId?: string;
  leaseExpiresAt?: number;
  /** Not dispatched before this time (retry backoff). */
  availableAt: number;
  output?: unknown;
  error?: TaskError;
  idempotencyKey?: string;
  /** Broadcast copies point at their parent and are pinned to one agent. */
  parentId?: string;
  targetAgentId?: string;
  createdAt: number;
  updatedAt: number;
  assignedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  version: number;
  /** The submitter's W3C trace context, handed to every agent that works the task. */
  traceContext?: TraceContext;
  /** Secrets of the tenant the agent working the task may read, while it holds the lease. */
  secrets?: string[];
  /** The conversation the task belongs to, as its submitter named it (an A2A contextId). */
  contextId?: string;
  /** Keep the result for identical tasks (when the mesh's result cache is on). */
  cache?: TaskCachePolicy;
  /** Completed at submit from an identical task's kept result, without an agent. */
  cached?: boolean;
}

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'dead_lettered', 'canceled']);

export function isTerminal(task: Pick<Task, 'status'>): boolean {
  return TERMINAL_STATUSES.has(task.status);
}

export interface TaskLimits {
  maxInputBytes: number;
  maxOutputBytes: number;
  defaultLeaseMs: number;
  minLeaseMs: number;
  maxLeaseMs: number;
  defaultMaxAttempts: number;
}

export const DEFAULT_TASK_LIMITS: TaskLimits = {
  maxInputBytes: 1024 * 1024,
  maxOutputBytes: 1024 * 1024,
  defaultLeaseMs: 30_000,
  minLeaseMs: 100,
  maxLeaseMs: 24 * 3600_000,
  defaultMaxAttempts: 3,
};

export interface SubmitTaskInput {
  id: string;
  tenantId: string;
  capability: string;
  input?: unknown;
  priority?: number;
  routing?: Partial<TaskRouting>;
  maxAttempts?: number;
  leaseMs?: number;
  deadline?: number;
  idempotencyKey?: string;
  traceContext?: TraceContext;
  secrets?: string[];
  contextId?: string;
  cache?: TaskCachePolicy;
}

type Change = { task: Task; events: DomainEvent[] };

function event(task: Task, type: TaskEventType, now: number, data: Record<string, unknown> = {}): DomainEvent {
  return { type, aggregateType: 'task', aggregateId: task.id, tenantId: task.tenantId, version: task.version, occurredAt: now, data };
}

/** Apply a sequence of (patch, event) steps, each bumping the version by one. */
function steps(task: Task, now: number, ...changes: Array<[Partial<Task>, TaskEventType, Record<string, unknown>?]>): Change {
  let current = task;
  const events: DomainEvent[] = [];
  for (const [patch, type, data] of changes) {
    current = { ...PLAIN, ...current, ...patch, updatedAt: now, version: current.version + 1 };
    events.push(event(current, type, now, data));
  }
  return { task: current, events };
}

export function submitTask(input: SubmitTaskInput, now: number, limits = DEFAULT_TASK_LIMITS): Change {
  assertName(input.capability, 'capability');
  const priority = input.priority ?? 5;
  assertIntegerInRange(priority, 0, 9, 'priority');
  const strategy = input.routing?.strategy ?? 'round_robin';
  if (!(ROUTING_STRATEGIES as readonly string[]).includes(strategy)) {
    throw new ValidationError(`routing.strategy must be one of ${ROUTING_STRATEGIES.join(', ')}`, 'routing.strategy');
  }
  const affinityKey = input.routing?.affinityKey;
  if (strategy === 'affinity' && (affinityKey === undefined || affinityKey.length === 0)) {
    throw new ValidationError('routing.affinityKey is required for the affinity strategy', 'routing.affinityKey');
  }
  if (affinityKey !== undefined && affinityKey.length > 512) {
    throw new ValidationError('routing.affinityKey must be at most 512 characters', 'routing.affinityKey');
  }
  if (affinityKey !== undefined) assertStorableText(affinityKey, 'routing.affinityKey');
  const maxAttempts = input.maxAttempts ?? limits.defaultMaxAttempts;
  assertIntegerInRange(maxAttempts, 1, 100, 'maxAttempts');
  const leaseMs = input.leaseMs ?? limits.defaultLeaseMs;
  assertIntegerInRange(leaseMs, limits.minLeaseMs, limits.maxLeaseMs, 'leaseMs');
  if (input.deadline !== undefined && (!Number.isFinite(input.deadline) || input.deadline <= now)) {
    throw new ValidationError('deadline must be in the future', 'deadline');
  }
  if (input.deadline !== undefined && input.deadline > LATEST_DATE_MS) {
    throw new ValidationError(`deadline must be a date: at most ${LATEST_DATE_MS} ms since the epoch (the year 275760)`, 'deadline');
  }
  const taskInput = input.input ?? null;
  assertJsonWithin(taskInput, limits.maxInputBytes, 'input');
  if (input.idempotencyKey !== undefined) assertStorableText(input.idempotencyKey, 'idempotencyKey');
  const secrets = taskSecrets(input.secrets);
  if (input.contextId !== undefined) assertIdentifier(input.contextId, 'contextId');
  const cache = cachePolicy(input.cache, strategy);

  const routing: TaskRouting = affinityKey === undefined ? { strategy } : { strategy, affinityKey };
  const task: Task = {
    id: input.id,
    tenantId: input.tenantId,
    capability: input.capability,
    input: taskInput,
    priority,
    routing,
    maxAttempts,
    leaseMs,
    ...(input.deadline !== undefined && { deadline: input.deadline }),
    ...(input.idempotencyKey !== undefined && { idempotencyKey: input.idempotencyKey }),
    ...(input.traceContext !== undefined && { traceContext: input.traceContext }),
    ...(secrets !== undefined && { secrets }),
    ...(input.contextId !== undefined && { contextId: input.contextId }),
    ...(cache !== undefined && { cache }),
    status: 'queued',
    attempts: 0,
    availableAt: now,
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  return { task, events: [event(task, 'TaskSubmitted', now, { capability: task.capability, priority, routing })] };
}

function cachePolicy(policy: TaskCachePolicy | undefined, strategy: string): TaskCachePolicy | undefined {
  if (policy === undefined) return undefined;
  assertIntegerInRange(policy.ttlSeconds, 1, MAX_RESULT_TTL_SECONDS, 'cache.ttlSeconds');
  if (policy.key !== undefined && (typeof policy.key !== 'string' || policy.key.length === 0 || policy.key.length > 256)) {
    throw new ValidationError('cache.key must be 1-256 characters', 'cache.key');
  }
  if (policy.key !== undefined) assertStorableText(policy.key, 'cache.key');
  // Each agent answers a broadcast: there is no one result to keep.
  if (strategy === 'broadcast') throw new ValidationError('cache is not available for broadcast tasks', 'cache');
  return policy.key === undefined ? { ttlSeconds: policy.ttlSeconds } : { ttlSeconds: policy.ttlSeconds, key: policy.key };
}

/** A task just submitted, completed at once with the result an identical task left in the cache. */
export function completeFromCache(submitted: Change, output: unknown, now: number): Change {
  const done = steps(submitted.task, now, [{ status: 'completed', output, finishedAt: now, cached: true }, 'TaskCompleted', { cached: true }]);
  return { task: done.task, events: [...submitted.events, ...done.events] };
}

/** One copy of a broadcast task, pinned to one agent; it goes through the normal lease and retry cycle. */
export function broadcastCopy(parent: Task, agentId: string, index: number, now: number): Change {
  const copy: Task = {
    ...PLAIN,
    ...parent,
    id: `${parent.id}~${index}`,
    routing: { strategy: 'broadcast' },
    status: 'queued',
    attempts: 0,
    availableAt: now,
    parentId: parent.id,
    targetAgentId: agentId,
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  delete copy.idempotencyKey;
  return { task: copy, events: [event(copy, 'TaskSubmitted', now, { parentId: parent.id, targetAgentId: agentId })] };
}

/** The broadcast parent is handed out: its copies now carry the work. */
export function fanOut(parent: Task, copyIds: string[], now: number): Change {
  if (parent.status !== 'queued') throw new InvalidStateError(`task '${parent.id}' is ${parent.status}, not queued`);
  return steps(parent, now, [{ status: 'running', attempts: 1, assignedAt: now, startedAt: now }, 'TaskAssigned', { copies: copyIds }]);
}

export function assign(task: Task, agentId: string, now: number): Change {
  if (task.status !== 'queued') throw new InvalidStateError(`task '${task.id}' is ${task.status}, not queued`);
  const attempts = task.attempts + 1;
  return steps(task, now, [
    { status: 'assigned', agentId, attempts, assignedAt: now, leaseExpiresAt: now + task.leaseMs, startedAt: undefined },
    'TaskAssigned',
    { agentId, attempt: attempts, leaseExpiresAt: now + task.leaseMs },
  ]);
}

function assertHeldBy(task: Task, agentId: string): void {
  if ((task.status !== 'assigned' && task.status !== 'running') || task.agentId !== agentId) {
    throw new LeaseNotHeldError(task.id, agentId);
  }
}

/** The agent has the task in hand (delivered over SSE or long poll). */
export function start(task: Task, agentId: string, now: number): Change {
  assertHeldBy(task, agentId);
  if (task.status === 'running') return { task, events: [] };
  return steps(task, now, [{ status: 'running', startedAt: now }, 'TaskStarted', { agentId, attempt: task.attempts }]);
}

export function extendLease(task: Task, agentId: string, leaseMs: number, now: number, limits = DEFAULT_TASK_LIMITS): Change {
  assertIntegerInRange(leaseMs, limits.minLeaseMs, limits.maxLeaseMs, 'leaseMs');
  assertHeldBy(task, agentId);
  const leaseExpiresAt = now + leaseMs;
  return steps(task, now, [{ leaseExpiresAt }, 'TaskLeaseExtended', { agentId, leaseExpiresAt }]);
}

export function complete(task: Task, agentId: string, output: unknown, now: number, limits = DEFAULT_TASK_LIMITS): Change {
  if (task.status === 'completed' && task.agentId === agentId) {
    // A retried completion is harmless; another output for a finished task is a bug worth hearing about.
    if (jsonEqual(task.output, output ?? null)) return { task, events: [] };
    throw new ConflictError(`task '${task.id}' was already completed with another output`, { id: task.id });
  }
  assertHeldBy(task, agentId);
  const value = output ?? null;
  assertJsonWithin(value, limits.maxOutputBytes, 'output');
  return steps(task, now, [
    { status: 'completed', output: value, leaseExpiresAt: undefined, finishedAt: now, error: undefined },
    'TaskCompleted',
    { agentId, attempt: task.attempts },
  ]);
}

/**
 * Put a task back for another attempt after `backoffMs`, or dead-letter it when attempts are spent.
 * `reason` says why the attempt ended (agent failure, lease expiry, agent lost).
 */
function retryOrDeadLetter(task: Task, error: TaskError, backoffMs: number, now: number, failedStep: boolean): Change {
  const first: Array<[Partial<Task>, TaskEventType, Record<string, unknown>?]> = failedStep
    ? [[{ error }, 'TaskFailed', { agentId: task.agentId, attempt: task.attempts, error, retryable: true }]]
    : [];
  if (task.attempts >= task.maxAttempts) {
    return steps(task, now, ...first, [
      { status: 'dead_lettered', error, leaseExpiresAt: undefined, finishedAt: now },
      'TaskDeadLettered',
      { attempts: task.attempts, error },
    ]);
  }
  return steps(task, now, ...first, [
    { status: 'queued', error, agentId: undefined, leaseExpiresAt: undefined, availableAt: now + backoffMs },
    'TaskRetried',
    { attempt: task.attempts, reason: error.code ?? 'failed', backoffMs },
  ]);
}

/** An error's message as kept on the task and in its events, the API's bound too: whoever reports it, a task's size stays bounded. */
export const MAX_ERROR_MESSAGE_CHARS = 8192;

export function fail(task: Task, agentId: string, reported: TaskError, retryable: boolean, backoffMs: number, now: number): Change {
  const error = reported.message.length > MAX_ERROR_MESSAGE_CHARS ? { ...PLAIN, ...reported, message: reported.message.slice(0, MAX_ERROR_MESSAGE_CHARS) } : reported;
  // A retried report of the failure that ended the task is harmless; any other report of an ended
  // task (another error, a retryable one, one after its deadline failed it) finds no lease.
  if (task.status === 'failed' && task.agentId === agentId && !retryable && task.error?.message === error.message && task.error.code === error.code) return { task, events: [] };
  assertStorableText(reported, 'error');
  assertHeldBy(task, agentId);
  if (retryable) return retryOrDeadLetter(task, { ...PLAIN, ...error, retryable: true }, backoffMs, now, true);
  return steps(task, now, [
    { status: 'failed', error: { ...PLAIN, ...error, retryable: false }, leaseExpiresAt: undefined, finishedAt: now },
    'TaskFailed',
    { agentId, attempt: task.attempts, error, retryable: false },
  ]);
}

/** The holder let the lease lapse, or stopped heartbeating: the attempt is over. */
export function releaseLease(task: Task, reason: 'lease_expired' | 'agent_lost' | 'agent_stopped', backoffMs: number, now: number): Change {
  if (task.status !== 'assigned' && task.status !== 'running') return { task, events: [] };
  const message =
    reason === 'lease_expired'
      ? `lease expired on agent '${task.agentId}'`
      : reason === 'agent_lost'
        ? `agent '${task.agentId}' stopped heartbeating`
        : `agent '${task.agentId}' handed the task back`;
  // A hand-back is not the task's fault: it does not use up an attempt.
  const attempts = reason === 'agent_stopped' ? task.attempts - 1 : task.attempts;
  return retryOrDeadLetter({ ...PLAIN, ...task, attempts }, { message, code: reason, retryable: true }, reason === 'agent_stopped' ? 0 : backoffMs, now, false);
}

export function cancel(task: Task, now: number, reason = 'canceled by request'): Change {
  if (task.status === 'canceled') return { task, events: [] };
  if (isTerminal(task)) throw new ConflictError(`task '${task.id}' is already ${task.status}`, { status: task.status });
  return steps(task, now, [
    { status: 'canceled', leaseExpiresAt: undefined, finishedAt: now, error: { message: reason, code: 'canceled' } },
    'TaskCanceled',
    { reason, agentId: task.agentId },
  ]);
}

export function expireDeadline(task: Task, now: number): Change {
  if (isTerminal(task) || task.deadline === undefined || task.deadline > now) return { task, events: [] };
  const error = { message: 'deadline passed before the task completed', code: 'deadline_exceeded', retryable: false };
  return steps(task, now, [
    { status: 'failed', error, leaseExpiresAt: undefined, finishedAt: now },
    'TaskFailed',
    { error, agentId: task.agentId },
  ]);
}

/** A queued task no agent can ever take (a broadcast copy whose agent left): it fails now. */
export function failUnroutable(task: Task, message: string, code: string, now: number): Change {
  if (task.status !== 'queued') return { task, events: [] };
  const error = { message, code, retryable: false };
  return steps(task, now, [{ status: 'failed', error, finishedAt: now }, 'TaskFailed', { error }]);
}

export function requeueDeadLetter(task: Task, now: number): Change {
  if (task.status !== 'dead_lettered') throw new ConflictError(`task '${task.id}' is ${task.status}, not dead_lettered`);
  // Queued again, it would only be failed for its deadline at the next sweep, unseen by any agent.
  if (task.deadline !== undefined && task.deadline <= now) {
    throw new ConflictError(`task '${task.id}' is past its deadline (${new Date(task.deadline).toISOString()}): submit it again with a later one`, { id: task.id });
  }
  return steps(task, now, [
    { status: 'queued', attempts: 0, agentId: undefined, availableAt: now, finishedAt: undefined },
    'TaskRequeued',
    {},
  ]);
}

export interface BroadcastResult {
  agentId: string;
  taskId: string;
  status: TaskStatus;
  output?: unknown;
  error?: TaskError;
}

/** A broadcast parent completes once every copy has ended, carrying each copy's result. */
export function completeBroadcast(parent: Task, copies: Task[], now: number): Change {
  if (isTerminal(parent) || copies.some((c) => !isTerminal(c))) return { task: parent, events: [] };
  const results: BroadcastResult[] = copies.map((c) => ({
    agentId: c.targetAgentId ?? '',
    taskId: c.id,
    status: c.status,
    ...(c.output !== undefined && { output: c.output }),
    ...(c.error !== undefined && { error: c.error }),
  }));
  return steps(parent, now, [
    { status: 'completed', output: { results }, finishedAt: now },
    'TaskCompleted',
    { copies: copies.length, succeeded: results.filter((r) => r.status === 'completed').length },
  ]);
}

/** Full-jitter exponential backoff; `random` in [0, 1) is injected to keep the domain deterministic. */
export function retryBackoffMs(attempt: number, baseMs: number, capMs: number, random: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random * ceiling);
}
