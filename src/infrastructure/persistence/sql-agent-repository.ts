import { ConcurrencyError, ConflictError, type Agent, type DomainEvent } from '../../domain/index.js';
import type { AgentFilter, AgentRepository, Page, PageRequest } from '../../application/ports.js';
import { isUniqueViolation, named, type SqlClient } from './sql-client.js';
import { AGENT_COLUMNS, AGENT_ID_PATTERN, agentFromRow, agentProfile, decodeCursor, eventRow, type AgentRowOut } from './rows.js';
import { pageOf, SqlWhere } from './sql-page.js';
import { INSERT_EVENTS } from './write-batcher.js';

const UPDATE_COUNTERS = named(
  'agent_counters',
  `
UPDATE agents AS a SET
  in_flight = r.in_flight, assigned_count = r.assigned_count, completed_count = r.completed_count,
  failed_count = r.failed_count, avg_latency_ms = r.avg_latency_ms, last_heartbeat_at = r.last_heartbeat_at,
  updated_at = r.updated_at,
  status = CASE WHEN a.status IN ('available', 'busy') AND r.status IN ('available', 'busy') THEN r.status ELSE a.status END
-- LIMIT with the row count: the planner then looks agents up by key (it assumes 100 rows and would scan the table).
FROM (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(tenant_id text, id text, status text, in_flight integer, assigned_count bigint,
  completed_count bigint, failed_count bigint, avg_latency_ms double precision, last_heartbeat_at bigint, updated_at bigint) LIMIT $2::integer) AS r
WHERE a.tenant_id = r.tenant_id AND a.id = r.id`,
);

const counters = (a: Agent) => ({
  tenant_id: a.tenantId,
  id: a.id,
  status: a.status,
  in_flight: a.inFlight,
  assigned_count: a.assignedCount,
  completed_count: a.completedCount,
  failed_count: a.failedCount,
  avg_latency_ms: a.avgLatencyMs,
  last_heartbeat_at: a.lastHeartbeatAt,
  updated_at: a.updatedAt,
});

/**
 * Agents: lifecycle changes (with events) commit in their own transaction, optimistic on version;
 * counter-only saves (load, heartbeat) are coalesced into one multi-row update per tick.
 */
export class SqlAgentRepository implements AgentRepository {
  private pendingCounters = new Map<string, { agent: Agent; waiters: Array<[() => void, (e: Error) => void]> }>();
  private flushScheduled = false;
  /** The counter flushes scheduled so far, one after the other: what drain() waits for. */
  private flushes: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: SqlClient,
    /** Events wait in the outbox for a relay (true), or are marked published as they are written. */
    private readonly relayEvents = false,
  ) {}

  async insert(agent: Agent, events: DomainEvent[]): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO agents (tenant_id, id, status, capabilities, version, last_heartbeat_at, registered_at, updated_at, profile)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [agent.tenantId, agent.id, agent.status, agent.capabilities.map((c) => c.name), agent.version, agent.lastHeartbeatAt, agent.registeredAt, agent.updatedAt, JSON.stringify(agentProfile(agent))],
        );
        await tx.query(INSERT_EVENTS, [JSON.stringify(events.map((e) => eventRow(e, this.relayEvents)))]);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`agent '${agent.id}' already exists`, { id: agent.id });
      throw error;
    }
  }

  save(agent: Agent, events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return this.queueCounters(agent);
    const expected = agent.version - events.length;
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query(
        `UPDATE agents SET status = $3, capabilities = $4, version = $5, profile = $6, last_heartbeat_at = $7, updated_at = $8, in_flight = $9,
           assigned_count = $11, completed_count = $12, failed_count = $13, avg_latency_ms = $14
         WHERE tenant_id = $1 AND id = $2 AND version = $10 RETURNING id`,
        [
          agent.tenantId, agent.id, agent.status, agent.capabilities.map((c) => c.name), agent.version, JSON.stringify(agentProfile(agent)),
          agent.lastHeartbeatAt, agent.updatedAt, agent.inFlight, expected, agent.assignedCount, agent.completedCount, agent.failedCount, agent.avgLatencyMs,
        ],
      );
      if (rows.length === 0) throw new ConcurrencyError(agent.id, expected);
      await tx.query(INSERT_EVENTS, [JSON.stringify(events.map((e) => eventRow(e, this.relayEvents)))]);
    });
  }

  private queueCounters(agent: Agent): Promise<void> {
    return new Promise((resolve, reject) => {
      const k = `${agent.tenantId}\u0000${agent.id}`;
      const entry = this.pendingCounters.get(k);
      if (entry) {
        entry.agent = agent;
        entry.waiters.push([resolve, reject]);
      } else {
        this.pendingCounters.set(k, { agent, waiters: [[resolve, reject]] });
      }
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // One flush after the other: on a pool, two in flight at once could commit out of order and
        // leave an agent's older counters stored. Writes made meanwhile wait, merged, for the next.
        // flushCounters settles its waiters (rejects them on failure); the chain itself never rejects.
        this.flushes = this.flushes
          .then(() => new Promise<void>((r) => setImmediate(r)))
          .then(() => this.flushCounters())
          .catch(() => undefined);
      }
    });
  }

  /** Resolves when the counter writes queued so far have settled. */
  async drain(): Promise<void> {
    // A flush scheduled while waiting (a write made as another settled) is waited for too.
    let awaited: Promise<void>;
    do {
      awaited = this.flushes;
      await awaited;
    } while (awaited !== this.flushes);
  }

  private async flushCounters(): Promise<void> {
    this.flushScheduled = false;
    const batch = [...this.pendingCounters.values()];
    this.pendingCounters = new Map();
    try {
      await this.db.query(UPDATE_COUNTERS, [JSON.stringify(batch.map((e) => counters(e.agent))), batch.length]);
      for (const e of batch) for (const [resolve] of e.waiters) resolve();
    } catch (error) {
      for (const e of batch) for (const [, reject] of e.waiters) reject(error as Error);
    }
  }

  async get(tenantId: string, id: string): Promise<Agent | undefined> {
    const { rows } = await this.db.query<AgentRowOut>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return rows[0] && agentFromRow(rows[0]);
  }

  async list(tenantId: string, filter: AgentFilter, page: PageRequest): Promise<Page<Agent>> {
    const where = new SqlWhere().add('tenant_id = ?', tenantId);
    if (filter.status !== undefined) where.add('status = ?', filter.status);
    if (filter.capability !== undefined) where.add('capabilities @> ARRAY[?]::text[]', filter.capability);
    const after = decodeCursor(page.cursor, AGENT_ID_PATTERN);
    if (after !== undefined) where.add('id > ?', after);
    const { rows } = await this.db.query<AgentRowOut>(
      `SELECT ${AGENT_COLUMNS} FROM agents WHERE ${where.sql} ORDER BY id LIMIT ${where.param(page.limit + 1)}`,
      where.params,
    );
    return pageOf(rows.map(agentFromRow), page.limit);
  }

  async listNotTerminated(): Promise<Agent[]> {
    const { rows } = await this.db.query<AgentRowOut>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE status <> 'terminated' ORDER BY tenant_id, id`);
    return rows.map(agentFromRow);
  }

  async countNotTerminated(tenantId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM agents WHERE tenant_id = $1 AND status <> 'terminated'`, [tenantId]);
    return rows[0]?.n ?? 0;
  }
}
