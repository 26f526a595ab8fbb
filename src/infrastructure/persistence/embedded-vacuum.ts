import type { SqlClient } from './sql-client.js';

export interface EmbeddedVacuumOptions {
  /** How often the dead rows are counted. */
  checkEveryMs: number;
  /** Dead rows (all tables) past which they are vacuumed, once the store has been quiet for `quietMs`. */
  minDeadRows: number;
  /** Quiet: no group commit for this long. */
  quietMs: number;
  /** Dead rows past which they are vacuumed even under load: the store's growth is then the greater harm. */
  maxDeadRows: number;
}

export const DEFAULT_EMBEDDED_VACUUM_OPTIONS: EmbeddedVacuumOptions = { checkEveryMs: 60_000, minDeadRows: 10_000, quietMs: 5_000, maxDeadRows: 500_000 };

export interface VacuumReport {
  tables: string[];
  deadRows: number;
  ms: number;
  /** Run under load, past maxDeadRows. */
  forced: boolean;
}

const DEAD_ROWS = 'SELECT relname AS table, n_dead_tup::bigint AS dead FROM pg_stat_user_tables WHERE n_dead_tup > 0 ORDER BY n_dead_tup DESC';

const quoted = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/**
 * PGlite runs no autovacuum: every task update leaves its old row behind (two per task: 21,508 dead
 * rows after 10,000 tasks), and the tables and their indexes grow without bound. This vacuums the
 * tables that have dead rows, and analyzes them so plans follow their size. VACUUM holds the
 * mesh's thread (189 ms for those 10,000 tasks), so it waits for a quiet moment, unless the dead
 * rows pass `maxDeadRows`.
 */
export class EmbeddedVacuum {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly db: SqlClient,
    /** When the store last committed (performance.now()). */
    private readonly lastWriteAt: () => number,
    private readonly onVacuum: (report: VacuumReport) => void,
    private readonly onError: (error: unknown) => void,
    private readonly options: EmbeddedVacuumOptions = DEFAULT_EMBEDDED_VACUUM_OPTIONS,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.options.checkEveryMs);
    this.timer.unref();
  }

  /** Stops checking and waits for a vacuum under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Counts the dead rows and vacuums when they call for it; one at a time. */
  check(): Promise<void> {
    this.running ??= this.vacuumIfDue()
      .catch(this.onError)
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async vacuumIfDue(): Promise<void> {
    if (this.stopped) return;
    const { rows } = await this.db.query<{ table: string; dead: string | number }>(DEAD_ROWS);
    const deadRows = rows.reduce((sum, r) => sum + Number(r.dead), 0);
    const forced = deadRows >= this.options.maxDeadRows;
    const quiet = performance.now() - this.lastWriteAt() >= this.options.quietMs;
    if (!forced && !(deadRows >= this.options.minDeadRows && quiet)) return;
    const started = performance.now();
    const tables: string[] = [];
    for (const { table } of rows) {
      if (this.stopped) break;
      await this.db.exec(`VACUUM (ANALYZE) ${quoted(table)}`);
      tables.push(table);
    }
    this.onVacuum({ tables, deadRows, ms: performance.now() - started, forced });
  }
}
