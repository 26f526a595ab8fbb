import { ConcurrencyError, ConflictError, UnavailableError, type DomainEvent, type Task } from '../../domain/index.js';
import { jsonParam, named, type SqlClient } from './sql-client.js';
import { eventRow, taskRow } from './rows.js';
import { PLAIN } from '../../domain/plain.js';

interface PendingWrite {
  kind: 'insert' | 'update';
  task: Task;
  events: DomainEvent[];
  /** The version the row must have for an update to apply. */
  expectedVersion: number;
  waiters: Array<{ resolve: () => void; reject: (error: Error) => void }>;
}

export interface WriteBatcherOptions {
  /** Writes per transaction. */
  maxBatch: number;
  /** Writes waiting for a transaction; past it, callers get UnavailableError (503). */
  maxPending: number;
  /** Events wait in the outbox for a relay (true), or are marked published as they are written. */
  relayEvents: boolean;
  /**
   * Batches committing at once. 1 for an in-process database (PGlite runs one statement at a
   * time anyway); more for a server, to keep several commits in flight on the pool's connections.
   */
  maxConcurrentFlushes: number;
}

export const DEFAULT_WRITE_BATCHER_OPTIONS: WriteBatcherOptions = { maxBatch: 2000, maxPending: 50_000, maxConcurrentFlushes: 1, relayEvents: false };

/**
 * One statement per batch: it is atomic on its own (no BEGIN/COMMIT round trips), and events are
 * appended only for the task rows that were written (a duplicate insert or a stale update writes none).
 */
export const WRITE_BATCH = named('task_write_batch', `
WITH inserted AS (
  INSERT INTO tasks (tenant_id, id, capability, status, priority, agent_id, parent_id, idempotency_key, created_at, updated_at, version, input, output, doc)
  SELECT r.tenant_id, r.id, r.capability, r.status, r.priority, r.agent_id, r.parent_id, r.idempotency_key, r.created_at, r.updated_at, r.version,
    coalesce(r.input, 'null'::json), r.output, r.doc
  FROM json_to_recordset($1::json) AS r(tenant_id text, id text, capability text, status text, priority smallint, agent_id text,
    parent_id text, idempotency_key text, created_at bigint, updated_at bigint, version integer, input json, output json, doc json)
  ON CONFLICT DO NOTHING
  RETURNING tenant_id, id
), updated AS (
  -- Each task is looked up by its key, one by one, whatever the planner guesses of the JSON's size
  -- (it assumes 100 rows) or of the table's: the LIMIT keeps the lateral lookup a nested loop over the
  -- primary key, and the row is then updated where it lies. A join on the key instead was planned
  -- anew at every run (a third of the statement's cost) or, once PostgreSQL kept one plan for
  -- all runs, hashed the JSON and scanned the whole table.
  UPDATE tasks AS t SET status = r.status, priority = r.priority, agent_id = r.agent_id, updated_at = r.updated_at, version = r.version,
    output = coalesce(r.output, t.output), doc = r.doc
  FROM (SELECT r.*, current.ctid AS row_ctid
    FROM json_to_recordset($2::json) AS r(tenant_id text, id text, status text, priority smallint, agent_id text,
      updated_at bigint, version integer, expected integer, output json, doc json)
    CROSS JOIN LATERAL (SELECT ctid FROM tasks WHERE tenant_id = r.tenant_id AND id = r.id AND version = r.expected LIMIT 1) AS current) AS r
  WHERE t.ctid = r.row_ctid
  RETURNING t.tenant_id, t.id
), written AS (
  SELECT tenant_id, id FROM inserted UNION ALL SELECT tenant_id, id FROM updated
), appended AS (
  INSERT INTO events (tenant_id, aggregate_type, aggregate_id, version, type, data, occurred_at, published_at)
  SELECT e.tenant_id, e.aggregate_type, e.aggregate_id, e.version, e.type, e.data, e.occurred_at, e.published_at
  FROM ROWS FROM (json_to_recordset($3::json) AS (tenant_id text, aggregate_type text, aggregate_id text, version integer, type text, data json, occurred_at bigint, published_at bigint)) WITH ORDINALITY AS e(tenant_id, aggregate_type, aggregate_id, version, type, data, occurred_at, published_at, ord)
  JOIN written w ON w.tenant_id = e.tenant_id AND w.id = e.aggregate_id
  -- seq follows the order the events were made in (the join alone may reorder them)
  ORDER BY e.ord
)
SELECT tenant_id, id FROM written`);

export const INSERT_EVENTS = `
INSERT INTO events (tenant_id, aggregate_type, aggregate_id, version, type, data, occurred_at, published_at)
SELECT r.tenant_id, r.aggregate_type, r.aggregate_id, r.version, r.type, r.data, r.occurred_at, r.published_at
FROM ROWS FROM (json_to_recordset($1::json) AS (tenant_id text, aggregate_type text, aggregate_id text, version integer, type text, data json, occurred_at bigint, published_at bigint)) WITH ORDINALITY AS r(tenant_id, aggregate_type, aggregate_id, version, type, data, occurred_at, published_at, ord)
ORDER BY r.ord`;

const rowKey = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/**
 * Group commit: task writes arriving in the same tick share one statement (insert tasks, update
 * tasks with a version check, append their events). Up to `maxConcurrentFlushes` batches commit
 * at once; writes that arrive meanwhile form the next batch. Writes of one task that wait for the
 * same batch merge into one row write carrying all their events, and a task's write never joins
 * a batch while its previous write is still committing, so a task's writes commit in order.
 */
export class WriteBatcher {
  private pending: PendingWrite[] = [];
  private readonly pendingByTask = new Map<string, PendingWrite>();
  /** Tasks with a write in a batch that is committing now. */
  private readonly committing = new Set<string>();
  private flushing = 0;
  private scheduled = false;
  flushes = 0;
  written = 0;

  constructor(
    private readonly db: SqlClient,
    private readonly options: WriteBatcherOptions = DEFAULT_WRITE_BATCHER_OPTIONS,
  ) {}

  get pendingCount(): number {
    return this.pending.length;
  }

  write(kind: 'insert' | 'update', task: Task, events: DomainEvent[]): Promise<void> {
    if (this.pending.length >= this.options.maxPending) {
      return Promise.reject(new UnavailableError(`the store's write queue is full (${this.options.maxPending} writes); retry shortly`));
    }
    return new Promise((resolve, reject) => {
      const k = rowKey(task.tenantId, task.id);
      const waiting = kind === 'update' ? this.pendingByTask.get(k) : undefined;
      if (waiting) {
        waiting.task = task;
        waiting.events.push(...events);
        waiting.waiters.push({ resolve, reject });
        return;
      }
      const write: PendingWrite = { kind, task, events: [...events], expectedVersion: task.version - events.length, waiters: [{ resolve, reject }] };
      this.pending.push(write);
      this.pendingByTask.set(k, write);
      this.schedule();
    });
  }

  /** Resolves when everything written so far is committed. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushing > 0) await new Promise((r) => setTimeout(r, 1));
  }

  private schedule(): void {
    if (this.scheduled || this.flushing >= this.options.maxConcurrentFlushes) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  /** The next batch: pending writes in order, leaving those whose task is still committing. */
  private takeBatch(): PendingWrite[] {
    const batch: PendingWrite[] = [];
    const kept: PendingWrite[] = [];
    for (const write of this.pending) {
      const k = rowKey(write.task.tenantId, write.task.id);
      if (batch.length >= this.options.maxBatch || this.committing.has(k)) {
        kept.push(write);
        continue;
      }
      batch.push(write);
      this.pendingByTask.delete(k);
      this.committing.add(k);
    }
    this.pending = kept;
    return batch;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.flushing >= this.options.maxConcurrentFlushes || this.pending.length === 0) return;
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    this.flushing++;
    // Room for another batch at once: the rest may go before this one commits.
    if (this.pending.length > 0) this.schedule();
    try {
      this.settle(batch, await this.writeBatch(batch));
    } catch {
      // Isolate the bad write: each one again on its own.
      for (const write of batch) {
        try {
          this.settle([write], await this.writeBatch([write]));
        } catch (error) {
          for (const w of write.waiters) w.reject(error as Error);
        }
      }
    } finally {
      for (const write of batch) this.committing.delete(rowKey(write.task.tenantId, write.task.id));
      this.flushes++;
      this.flushing--;
      if (this.pending.length > 0) this.schedule();
    }
  }

  private settle(batch: PendingWrite[], outcomes: Array<Error | undefined>): void {
    batch.forEach((write, i) => {
      const error = outcomes[i];
      if (!error) this.written++;
      for (const w of write.waiters) error ? w.reject(error) : w.resolve();
    });
  }

  private async writeBatch(batch: PendingWrite[]): Promise<Array<Error | undefined>> {
    const inserts = batch.filter((w) => w.kind === 'insert').map((w) => taskRow(w.task));
    // Updates never rewrite the input: leave it out of the parameter.
    const updates = batch
      .filter((w) => w.kind === 'update')
      .map((w) => {
        const { input: _input, ...row } = taskRow(w.task);
        return { ...PLAIN, ...row, expected: w.expectedVersion };
      });
    const events = batch.flatMap((w) => w.events.map((e) => eventRow(e, this.options.relayEvents)));
    const { rows } = await this.db.query<{ tenant_id: string; id: string }>(WRITE_BATCH, [
      jsonParam(inserts),
      jsonParam(updates),
      jsonParam(events),
    ]);
    const ok = new Set(rows.map((r) => rowKey(r.tenant_id, r.id)));
    return batch.map((w) => {
      if (ok.has(rowKey(w.task.tenantId, w.task.id))) return undefined;
      return w.kind === 'insert'
        ? new ConflictError(`task '${w.task.id}' or its idempotency key exists already`, { id: w.task.id })
        : new ConcurrencyError(w.task.id, w.expectedVersion);
    });
  }
}
