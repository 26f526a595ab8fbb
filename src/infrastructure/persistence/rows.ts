import { ValidationError } from '../../domain/index.js';
import type { Agent, DomainEvent, Task } from '../../domain/index.js';
import { PLAIN } from '../../domain/plain.js';

/** Row shapes for jsonb_to_recordset batches, and their way back. */

/** Input and output live in their own columns; `doc` holds the rest, rewritten on each change. */
export function taskRow(task: Task) {
  const { input, output, ...doc } = task;
  return {
    tenant_id: task.tenantId,
    id: task.id,
    capability: task.capability,
    status: task.status,
    priority: task.priority,
    agent_id: task.agentId ?? null,
    parent_id: task.parentId ?? null,
    idempotency_key: task.idempotencyKey ?? null,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    version: task.version,
    input,
    ...(output !== undefined && { output }),
    doc,
  };
}

export const TASK_COLUMNS = 'doc, input, output, status';

export interface TaskRowOut {
  doc: Omit<Task, 'input' | 'output'>;
  input: unknown;
  output: unknown;
  status: Task['status'];
}

export function taskFromRow(r: TaskRowOut): Task {
  const task: Task = { ...PLAIN, ...r.doc, input: r.input };
  // SQL NULL for a completed task is a JSON null output.
  if (r.output !== null || r.status === 'completed') task.output = r.output;
  return task;
}

/** `relayed`: the event waits in the outbox for the relay (published_at NULL); otherwise it is marked published at once. */
export function eventRow(e: DomainEvent, relayed: boolean) {
  return {
    tenant_id: e.tenantId,
    aggregate_type: e.aggregateType,
    aggregate_id: e.aggregateId,
    version: e.version,
    type: e.type,
    data: e.data,
    occurred_at: e.occurredAt,
    published_at: relayed ? null : e.occurredAt,
  };
}

export interface AgentRowOut {
  tenant_id: string;
  id: string;
  status: Agent['status'];
  version: number;
  in_flight: number;
  assigned_count: string | number;
  completed_count: string | number;
  failed_count: string | number;
  avg_latency_ms: number;
  last_heartbeat_at: string | number;
  registered_at: string | number;
  updated_at: string | number;
  /** What changes only with the agent's lifecycle; `circuit` only while its breaker is not closed. */
  profile: Pick<Agent, 'name' | 'description' | 'capabilities' | 'tags' | 'metadata' | 'maxConcurrentTasks' | 'circuit' | 'a2aUrl'>;
}

export const AGENT_COLUMNS =
  'tenant_id, id, status, version, in_flight, assigned_count, completed_count, failed_count, avg_latency_ms, last_heartbeat_at, registered_at, updated_at, profile';

export function agentFromRow(r: AgentRowOut): Agent {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    ...r.profile,
    status: r.status,
    inFlight: r.in_flight,
    assignedCount: Number(r.assigned_count),
    completedCount: Number(r.completed_count),
    failedCount: Number(r.failed_count),
    avgLatencyMs: r.avg_latency_ms,
    lastHeartbeatAt: Number(r.last_heartbeat_at),
    registeredAt: Number(r.registered_at),
    updatedAt: Number(r.updated_at),
    version: r.version,
  };
}

export function agentProfile(a: Agent): AgentRowOut['profile'] {
  return {
    name: a.name,
    description: a.description,
    capabilities: a.capabilities,
    tags: a.tags,
    metadata: a.metadata,
    maxConcurrentTasks: a.maxConcurrentTasks,
    ...(a.circuit !== undefined && a.circuit.state !== 'closed' && { circuit: a.circuit }),
    ...(a.a2aUrl !== undefined && { a2aUrl: a.a2aUrl }),
  };
}

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** What the ids behind cursors look like: a cursor that decodes to anything else was not made here. */
export const TASK_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(~\d+)?$/u;
export const AGENT_ID_PATTERN = /^[A-Za-z0-9._:-]{3,256}$/u;

export function decodeCursor(cursor: string | undefined, idPattern: RegExp): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!idPattern.test(id) || encodeCursor(id) !== cursor) {
    // Every listing takes its cursor as a query parameter.
    throw new ValidationError('cursor is not one this API gave out: pass back nextCursor from a previous page, or leave it out', 'querystring.cursor');
  }
  return id;
}
