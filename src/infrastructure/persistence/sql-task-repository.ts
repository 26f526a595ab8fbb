import type { DomainEvent, Task } from '../../domain/index.js';
import type { Page, PageRequest, TaskFilter, TaskRepository } from '../../application/ports.js';
import type { SqlExecutor } from './sql-client.js';
import { decodeCursor, TASK_COLUMNS, TASK_ID_PATTERN, taskFromRow, type TaskRowOut } from './rows.js';
import { pageOf, SqlWhere } from './sql-page.js';
import { uuidV7Floor } from '../system/uuid-v7.js';
import type { WriteBatcher } from './write-batcher.js';

/** Tasks in PostgreSQL (or PGlite); writes go through the group-commit batcher. */
export class SqlTaskRepository implements TaskRepository {
  constructor(
    private readonly db: SqlExecutor,
    private readonly batcher: WriteBatcher,
  ) {}

  insert(task: Task, events: DomainEvent[]): Promise<void> {
    return this.batcher.write('insert', task, events);
  }

  async insertMany(items: Array<{ task: Task; events: DomainEvent[] }>): Promise<void> {
    await Promise.all(items.map((i) => this.batcher.write('insert', i.task, i.events)));
  }

  save(task: Task, events: DomainEvent[]): Promise<void> {
    return this.batcher.write('update', task, events);
  }

  getCommitted(tenantId: string, id: string): Promise<Task | undefined> {
    return this.get(tenantId, id);
  }

  async get(tenantId: string, id: string): Promise<Task | undefined> {
    const { rows } = await this.db.query<TaskRowOut>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return rows[0] && taskFromRow(rows[0]);
  }

  async findByIdempotencyKey(tenantId: string, key: string): Promise<Task | undefined> {
    const { rows } = await this.db.query<TaskRowOut>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE tenant_id = $1 AND idempotency_key = $2`, [tenantId, key]);
    return rows[0] && taskFromRow(rows[0]);
  }

  /** Newest first; the cursor is the last id seen. */
  async list(tenantId: string, filter: TaskFilter, page: PageRequest): Promise<Page<Task>> {
    const where = new SqlWhere().add('tenant_id = ?', tenantId);
    if (filter.status !== undefined) where.add('status = ?', filter.status);
    if (filter.capability !== undefined) where.add('capability = ?', filter.capability);
    if (filter.agentId !== undefined) where.add('agent_id = ?', filter.agentId);
    const after = decodeCursor(page.cursor, TASK_ID_PATTERN);
    if (after !== undefined) where.add('id < ?', after);
    const { rows } = await this.db.query<TaskRowOut>(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE ${where.sql} ORDER BY id DESC LIMIT ${where.param(page.limit + 1)}`,
      where.params,
    );
    return pageOf(rows.map(taskFromRow), page.limit);
  }

  async listActive(): Promise<Task[]> {
    const { rows } = await this.db.query<TaskRowOut>(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE status IN ('queued', 'assigned', 'running') ORDER BY created_at, id`,
    );
    return rows.map(taskFromRow);
  }

  async listCopies(tenantId: string, parentId: string): Promise<Task[]> {
    const { rows } = await this.db.query<TaskRowOut>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE tenant_id = $1 AND parent_id = $2 ORDER BY id`, [tenantId, parentId]);
    return rows.map(taskFromRow);
  }

  async submittedPerMinuteSince(tenantId: string, since: number): Promise<Array<{ minute: number; count: number }>> {
    const { rows } = await this.db.query<{ minute: string | number; n: number }>(
      // Ids are UUIDv7: an id range over the primary key is a time range.
      `SELECT (created_at / 60000) * 60000 AS minute, count(*)::int AS n FROM tasks
       WHERE tenant_id = $1 AND id >= $2 AND created_at >= $3 AND parent_id IS NULL GROUP BY 1 ORDER BY 1`,
      [tenantId, uuidV7Floor(since), since],
    );
    return rows.map((r) => ({ minute: Number(r.minute), count: r.n }));
  }
}
