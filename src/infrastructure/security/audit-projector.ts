import type { Logger } from '../../application/logger.js';
import { SYSTEM_AUDITED_EVENT_TYPES, systemAuditOf } from '../../application/system-audit.js';
import { TurnLoop } from '../../application/turn-loop.js';
import type { AuditRecord } from '../../domain/index.js';
import { named, type SqlClient, type SqlExecutor } from '../persistence/sql-client.js';
import { eventFromRow, type EventRow } from '../persistence/sql-event-store.js';
import type { SqlAuditStore } from './sql-audit-store.js';
import { PLAIN } from '../../domain/plain.js';

export interface AuditProjectorOptions {
  /** Events per turn. */
  batch: number;
  /** Pause between turns once caught up. */
  idleMs: number;
  /** Longest pause after failures. */
  maxBackoffMs: number;
}

export const DEFAULT_AUDIT_PROJECTOR_OPTIONS: AuditProjectorOptions = { batch: 1000, idleMs: 200, maxBackoffMs: 5_000 };

/** The oldest transaction still running: every event below it has committed (or never will). */
const HORIZON = named('audit_projector_horizon', 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon');

/**
 * The next events that may make an entry, after the cursor and below the horizon, in (xid, seq)
 * order: no event can still appear in that range, so reading it in order never skips one that
 * commits late.
 */
const NEXT_EVENTS = named(
  'audit_projector_next_events',
  `
SELECT e.seq, e.tenant_id, e.aggregate_type, e.aggregate_id, e.version, e.type, e.data, e.occurred_at, e.xid::text AS xid
FROM events e
WHERE (e.xid, e.seq) > ($1::xid8, $2::bigint) AND e.xid < $3::xid8 AND e.type = ANY($4::text[])
ORDER BY e.xid, e.seq
LIMIT $5`,
);

/** Moves the cursor only from where this instance last saw it: another instance may have moved it. */
const MOVE_CURSOR = named('audit_projector_move_cursor', 'UPDATE audit_projection SET xid = $1::xid8, seq = $2 WHERE id = 1 AND xid = $3::xid8 AND seq = $4 RETURNING id');

type Cursor = { xid: string; seq: number };

class CursorMoved extends Error {}

/** Failed turns in a row after which entries are written without their details. */
const STUCK_TURNS = 5;

/** How long the cursor may stay ahead of the stored one while no entry is made. */
const PERSIST_EVERY_MS = 5_000;

/**
 * Audits what the mesh did on its own from the events its state changes committed with. Each turn
 * reads the next events that may make an entry; when they make entries, it appends them and moves
 * the stored cursor in one transaction, so after a crash it resumes where it stopped and each event
 * is audited exactly once. Runs of events that make none only move the cursor in memory (and in
 * the store now and then): reading them again after a crash makes nothing. Instances may all run
 * one: the stored cursor moves only from where the mover last saw it, and one that finds it moved
 * reads it again.
 */
export class AuditProjector {
  private readonly loop: TurnLoop;
  /** Where this instance has read to, and where the store's cursor was when it last read or wrote it. */
  private cursor: Cursor | undefined;
  private stored: Cursor | undefined;
  private storedAt = 0;
  projected = 0;
  audited = 0;
  /** Turns failed in a row at the same cursor: past a few, entries are written without their details. */
  private stuck = 0;

  constructor(
    private readonly db: SqlClient,
    private readonly audit: SqlAuditStore,
    private readonly logger: Logger,
    private readonly options: AuditProjectorOptions = DEFAULT_AUDIT_PROJECTOR_OPTIONS,
  ) {
    this.loop = new TurnLoop(options, () => this.turn(), {
      failed: (error, inARow) => {
        // Another instance moved the cursor: no failure, the next turn reads from where it got to.
        if (error instanceof CursorMoved) return;
        this.stuck++;
        if (inARow === 1) logger.warn({ err: error }, 'audit projection failed; the events wait and are retried');
      },
      recovered: () => {
        if (this.stuck > 0) logger.info({}, 'audit projection: running again');
        this.stuck = 0;
      },
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the loop after a last turn for what committed on the way down, and stores the cursor. */
  async stop(): Promise<void> {
    await this.loop.stop();
    try {
      while ((await this.turn()) === this.options.batch);
      await this.persist(true);
    } catch (error) {
      // Another instance projects: what this one read is audited there, nothing is left behind.
      if (error instanceof CursorMoved) return;
      this.logger.warn({ err: error }, 'last audit projection failed; the events are audited at the next start');
    }
  }

  private async load(): Promise<Cursor> {
    const { rows } = await this.db.query<{ xid: string; seq: number | string }>('SELECT xid::text AS xid, seq FROM audit_projection WHERE id = 1');
    const cursor = { xid: rows[0]!.xid, seq: Number(rows[0]!.seq) };
    this.stored = cursor;
    this.storedAt = Date.now();
    return cursor;
  }

  /** One turn: returns how many events it read. */
  async turn(): Promise<number> {
    const from = this.cursor ?? (await this.load());
    const { rows: h } = await this.db.query<{ horizon: string }>(HORIZON);
    const horizon = h[0]!.horizon;
    const { rows } = await this.db.query<EventRow & { xid: string }>(NEXT_EVENTS, [from.xid, from.seq, horizon, SYSTEM_AUDITED_EVENT_TYPES, this.options.batch]);
    // A full page ends at its last event; a short one means everything below the horizon was read.
    const to: Cursor = rows.length === this.options.batch ? { xid: rows.at(-1)!.xid, seq: Number(rows.at(-1)!.seq) } : { xid: horizon, seq: 0 };
    const records: AuditRecord[] = [];
    for (const row of rows) {
      const record = systemAuditOf(eventFromRow(row));
      // An event whose details the log keeps refusing must not stop the audit of everything after it.
      if (record) records.push(this.stuck >= STUCK_TURNS ? { ...PLAIN, ...record, details: { detailsDropped: 'the log refused them repeatedly' } } : record);
    }
    if (records.length > 0) {
      await this.audit.transaction(async (tx, append) => {
        await this.moveStored(tx, to);
        await append(records);
      });
      this.stored = to;
      this.storedAt = Date.now();
      this.audited += records.length;
    }
    this.cursor = to;
    this.projected += rows.length;
    await this.persist(false);
    return rows.length;
  }

  /** Stores the cursor when it has run ahead long enough (or `now`), so a restart does not read far back. */
  private async persist(now: boolean): Promise<void> {
    const { cursor, stored } = this;
    if (!cursor || !stored || (cursor.xid === stored.xid && cursor.seq === stored.seq)) return;
    if (!now && Date.now() - this.storedAt < PERSIST_EVERY_MS) return;
    await this.moveStored(this.db, cursor);
    this.stored = cursor;
    this.storedAt = Date.now();
  }

  private async moveStored(executor: SqlExecutor, to: Cursor): Promise<void> {
    const from = this.stored!;
    const { rows } = await executor.query(MOVE_CURSOR, [to.xid, to.seq, from.xid, from.seq]);
    if (rows.length === 0) {
      // Another instance projected meanwhile: start again from where it got to.
      this.cursor = undefined;
      this.stored = undefined;
      throw new CursorMoved('the audit projection cursor was moved by another instance');
    }
  }
}
