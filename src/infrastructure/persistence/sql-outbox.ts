import type { Outbox, StoredEvent } from '../../application/ports.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';
import { eventFromRow, type EventRow } from './sql-event-store.js';

/** Key of the transaction-level advisory lock that gives one relay at a time its turn. */
export const RELAY_LOCK_KEY = 0x61676d75;

/**
 * The outbox over the events table: unpublished events are those with no published_at (a
 * partial index finds them). A turn locks its rows (FOR UPDATE SKIP LOCKED) inside a transaction
 * that also holds the relay lock, so no event is published by two relays at once and events go
 * out in commit order; a crash after publishing and before the mark re-publishes them, which the
 * broker's de-duplication on the event id absorbs.
 */
export class SqlOutbox implements Outbox {
  constructor(
    private readonly db: SqlClient,
    /**
     * Only this process uses the database (PGlite): no relay competes, so no transaction is held
     * while publishing (PGlite would block every other statement meanwhile).
     */
    private readonly singleProcess: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  relay(limit: number, publish: (events: StoredEvent[]) => Promise<void>): Promise<number> {
    if (this.singleProcess) return this.publishOldest(this.db, limit, publish, '');
    return this.db.transaction(async (tx) => {
      const { rows: turn } = await tx.query<{ mine: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS mine', [RELAY_LOCK_KEY]);
      if (!turn[0]?.mine) return 0;
      return this.publishOldest(tx, limit, publish, ' FOR UPDATE SKIP LOCKED');
    });
  }

  private async publishOldest(db: SqlExecutor, limit: number, publish: (events: StoredEvent[]) => Promise<void>, rowLock: string): Promise<number> {
    const { rows } = await db.query<EventRow>(`SELECT * FROM events WHERE published_at IS NULL ORDER BY seq LIMIT $1${rowLock}`, [limit]);
    if (rows.length === 0) return 0;
    const events = rows.map(eventFromRow);
    await publish(events);
    await db.query('UPDATE events SET published_at = $2 WHERE seq = ANY($1::bigint[])', [events.map((e) => e.seq), this.now()]);
    return events.length;
  }

  async pendingCount(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE published_at IS NULL');
    return rows[0]?.n ?? 0;
  }
}
