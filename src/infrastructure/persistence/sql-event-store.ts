import type { DomainEvent } from '../../domain/index.js';
import type { EventStore, StoredEvent } from '../../application/ports.js';
import type { SqlExecutor } from './sql-client.js';

export interface EventRow {
  seq: string | number;
  tenant_id: string;
  aggregate_type: DomainEvent['aggregateType'];
  aggregate_id: string;
  version: number;
  type: DomainEvent['type'];
  data: Record<string, unknown>;
  occurred_at: string | number;
}

export const eventFromRow = (r: EventRow): StoredEvent => ({
  seq: Number(r.seq),
  tenantId: r.tenant_id,
  aggregateType: r.aggregate_type,
  aggregateId: r.aggregate_id,
  version: r.version,
  type: r.type,
  data: r.data,
  occurredAt: Number(r.occurred_at),
});

/** Reads of the append-only event table (writes happen with each aggregate's state change). */
export class SqlEventStore implements EventStore {
  constructor(private readonly db: SqlExecutor) {}

  async readStream(tenantId: string, aggregateType: DomainEvent['aggregateType'], aggregateId: string): Promise<StoredEvent[]> {
    const { rows } = await this.db.query<EventRow>(
      'SELECT * FROM events WHERE tenant_id = $1 AND aggregate_type = $2 AND aggregate_id = $3 ORDER BY version',
      [tenantId, aggregateType, aggregateId],
    );
    return rows.map(eventFromRow);
  }

  async readAfter(seq: number, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.db.query<EventRow>('SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2', [seq, limit]);
    return rows.map(eventFromRow);
  }
}
