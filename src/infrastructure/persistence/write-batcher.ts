import { ConcurrencyError, ConflictError, UnavailableError, type DomainEvent, type Task } from '../../domain/index.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';
import { eventRow, taskRow } from './rows.js';

interface PendingWrite {
  kind: 'insert' | 'update';
  task: Task;
  events: DomainEvent[];
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface WriteBatcherOptions {
  /** Writes per transaction. */
  maxBatch: number;
  /** Writes waiting for a transaction; past it, callers get UnavailableError (503). */
  maxPending: number;
}

const INSERT_TASKS = `
INSERT INTO tasks (tenant_id, id, capability, status, priority, agent_id, parent_id, idempotency_key, created_at, updated_at, version, input, output, doc)
SELECT r.tenant_id, r.id, r.capability, r.status, r.priority, r.agent_id, r.parent_id, r.idempotency_key, r.created_at, r.updated_at, r.version,
  coalesce(r.input, 'null'::json), r.output, r.doc
FROM json_to_recordset($1::json) AS r(tenant_id text, id text, capability text, status text, priority smallint, agent_id text,
  parent_id text, idempotency_key text, created_at bigint, updated_at bigint, version integer, input json, output json, doc json)
ON CONFLICT DO NOTHING
RETURNING tenant_id, id`;

const UPDATE_TASKS = `
UPDATE tasks AS t SET status = r.status, priority = r.priority, agent_id = r.agent_id, updated_at = r.updated_at, version = r.version,
  output = coalesce(r.output, t.output), doc = r.doc
FROM json_to_recordset($1::json) AS r(tenant_id text, id text, status text, priority smallint, agent_id text,
  updated_at bigint, version integer, expected integer, output json, doc json)
WHERE t.tenant_id = r.tenant_id AND t.id = r.id AND t.version = r.expected
RETURNING t.tenant_id, t.id`;

export const INSERT_EVENTS = `
INSERT INTO events (tenant_id, aggregate_type, aggregate_id, version, type, data, occurred_at)
SELECT r.tenant_id, r.aggregate_type, r.aggregate_id, r.version, r.type, r.data, r.occurred_at
FROM json_to_recordset($1::json) AS r(tenant_id text, aggregate_type text, aggregate_id text, version integer, type text, data json, occurred_at bigint)`;

const rowKey = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/**
 * Group commit: task writes arriving in the same tick share one transaction of three multi-row
 * statements (insert tasks, update tasks with a version check, append events). One flush runs at
 * a time; writes that arrive meanwhile form the next batch.
 */
export class WriteBatcher {
  private pending: PendingWrite[] = [];
  private flushing = false;
  private scheduled = false;
  flushes = 0;
  written = 0;

  constructor(
    private readonly db: SqlClient,
    private readonly options: WriteBatcherOptions = { maxBatch: 2000, maxPending: 50_000 },
  ) {}

  get pendingCount(): number {
    return this.pending.length;
  }

  write(kind: 'insert' | 'update', task: Task, events: DomainEvent[]): Promise<void> {
    if (this.pending.length >= this.options.maxPending) {
      return Promise.reject(new UnavailableError(`the store's write queue is full (${this.options.maxPending} writes); retry shortly`));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ kind, task, events, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything written so far is committed. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushing) await new Promise((r) => setTimeout(r, 1));
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending.splice(0, this.options.maxBatch);
    try {
      const outcomes = await this.db.transaction((tx) => this.writeBatch(tx, batch));
      this.settle(batch, outcomes);
    } catch {
      // Isolate the bad write: each one again in its own transaction.
      for (const write of batch) {
        try {
          this.settle([write], await this.db.transaction((tx) => this.writeBatch(tx, [write])));
        } catch (error) {
          write.reject(error as Error);
        }
      }
    } finally {
      this.flushes++;
      this.flushing = false;
      if (this.pending.length > 0) this.schedule();
    }
  }

  private settle(batch: PendingWrite[], outcomes: Array<Error | undefined>): void {
    batch.forEach((write, i) => {
      const error = outcomes[i];
      if (error) write.reject(error);
      else {
        this.written++;
        write.resolve();
      }
    });
  }

  private async writeBatch(tx: SqlExecutor, batch: PendingWrite[]): Promise<Array<Error | undefined>> {
    const inserts = batch.filter((w) => w.kind === 'insert');
    const updates = batch.filter((w) => w.kind === 'update');
    const ok = new Set<string>();
    if (inserts.length > 0) {
      const { rows } = await tx.query<{ tenant_id: string; id: string }>(INSERT_TASKS, [JSON.stringify(inserts.map((w) => taskRow(w.task)))]);
      for (const r of rows) ok.add(rowKey(r.tenant_id, r.id));
    }
    if (updates.length > 0) {
      // Updates never rewrite the input: leave it out of the parameter.
      const rows = updates.map((w) => {
        const { input: _input, ...row } = taskRow(w.task);
        return { ...row, expected: w.task.version - w.events.length };
      });
      const result = await tx.query<{ tenant_id: string; id: string }>(UPDATE_TASKS, [JSON.stringify(rows)]);
      for (const r of result.rows) ok.add(rowKey(r.tenant_id, r.id));
    }
    const events = batch.filter((w) => ok.has(rowKey(w.task.tenantId, w.task.id))).flatMap((w) => w.events.map(eventRow));
    if (events.length > 0) await tx.query(INSERT_EVENTS, [JSON.stringify(events)]);
    return batch.map((w) => {
      if (ok.has(rowKey(w.task.tenantId, w.task.id))) return undefined;
      return w.kind === 'insert'
        ? new ConflictError(`task '${w.task.id}' or its idempotency key exists already`, { id: w.task.id })
        : new ConcurrencyError(w.task.id, w.task.version - w.events.length);
    });
  }
}
