import type { Logger } from '../../application/logger.js';
import { systemAuditOf } from '../../application/system-audit.js';
import type { AuditRecord } from '../../domain/index.js';
import type { SqlClient } from '../persistence/sql-client.js';
import { eventFromRow, type EventRow } from '../persistence/sql-event-store.js';
import type { SqlAuditStore } from './sql-audit-store.js';

export interface AuditProjectorOptions {
  /** Events per turn. */
  batch: number;
  /** Pause between turns once caught up. */
  idleMs: number;
}

export const DEFAULT_AUDIT_PROJECTOR_OPTIONS: AuditProjectorOptions = { batch: 1000, idleMs: 200 };

/**
 * The next events of finished transactions after the cursor. Below the oldest running
 * transaction (the snapshot's xmin) no event can still appear, so reading in (xid, seq) order
 * never skips one that commits late.
 */
const NEXT_EVENTS = `
SELECT e.seq, e.tenant_id, e.aggregate_type, e.aggregate_id, e.version, e.type, e.data, e.occurred_at, e.xid::text AS xid
FROM events e
WHERE (e.xid, e.seq) > ($1::xid8, $2::bigint) AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY e.xid, e.seq
LIMIT $3`;

/**
 * Audits what the mesh did on its own from the events its state changes committed with: each
 * turn takes the next events, appends the entries of those the mesh caused (systemAuditOf), and
 * moves its cursor, all in one transaction. A crash loses nothing: the events wait. One
 * instance projects at a time (the cursor's row lock); the others skip their turn.
 */
export class AuditProjector {
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  projected = 0;
  audited = 0;

  constructor(
    private readonly db: SqlClient,
    private readonly audit: SqlAuditStore,
    private readonly logger: Logger,
    private readonly options: AuditProjectorOptions = DEFAULT_AUDIT_PROJECTOR_OPTIONS,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops the loop after a last turn for what committed on the way down. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    try {
      while ((await this.turn()) === this.options.batch);
    } catch (error) {
      this.logger.warn({ err: error }, 'last audit projection failed; the events are audited at the next start');
    }
  }

  private async loop(): Promise<void> {
    let failing = false;
    while (!this.stopped) {
      let taken = 0;
      try {
        taken = await this.turn();
        if (failing) this.logger.info({}, 'audit projection: running again');
        failing = false;
      } catch (error) {
        if (!failing) this.logger.warn({ err: error }, 'audit projection failed; the events wait and are retried');
        failing = true;
      }
      if (taken < this.options.batch && !this.stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, failing ? this.options.idleMs * 10 : this.options.idleMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** One turn: returns how many events it took (0 when another instance holds the cursor). */
  turn(): Promise<number> {
    return this.db.transaction(async (tx) => {
      const { rows: cursor } = await tx.query<{ xid: string; seq: number | string }>('SELECT xid::text AS xid, seq FROM audit_projection WHERE id = 1 FOR UPDATE SKIP LOCKED');
      if (!cursor[0]) return 0;
      const { rows } = await tx.query<EventRow & { xid: string }>(NEXT_EVENTS, [cursor[0].xid, cursor[0].seq, this.options.batch]);
      if (rows.length === 0) return 0;
      const records: AuditRecord[] = [];
      for (const row of rows) {
        const record = systemAuditOf(eventFromRow(row));
        if (record) records.push(record);
      }
      await this.audit.appendWithin(tx, records);
      const last = rows.at(-1)!;
      await tx.query('UPDATE audit_projection SET xid = $1::xid8, seq = $2 WHERE id = 1', [last.xid, last.seq]);
      this.projected += rows.length;
      this.audited += records.length;
      return rows.length;
    });
  }
}
