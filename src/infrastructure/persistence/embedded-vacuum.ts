import type { SqlClient } from './sql-client.js';

export interface EmbeddedVacuumOptions {
  /** How often the dead rows are counted. */
  checkEveryMs: number;
  /** Dead rows (all tables) past which they are vacuumed, once the store has been quiet for `quietMs`. */
  minDeadRows: number;
  /** Quiet: no write to the store for this long (task commits, audit appends). */
  quietMs: number;
  /** Dead rows past which they are vacuumed even under load: the store's growth is then the greater harm. */
  maxDeadRows: number;
}

/**
 * 100,000 dead rows take about a second to vacuum (189 ms for 21,508): under a load that never
 * leaves the store a second without writes, that pause comes once every ~50,000 tasks.
 */
const DEFAULT_EMBEDDED_VACUUM_OPTIONS: EmbeddedVacuumOptions = { checkEveryMs: 60_000, minDeadRows: 10_000, quietMs: 1_000, maxDeadRows: 100_000 };

export interface VacuumReport {
  tables: string[];
  deadRows: number;
  ms: number;
  /** Run under load, past maxDeadRows. */
  forced: boolean;
}

const DEAD_ROWS = 'SELECT relname AS table, n_dead_tup::bigint AS dead FROM pg_stat_user_tables WHERE n_dead_tup > 0 ORDER BY n_dead_tup DESC';
/** PGlite publishes a statement's counts only with the next one's: this makes the count that follows current. */
const FLUSH_STATISTICS = 'SELECT pg_stat_force_next_flush()';

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
  /** Ends the wait for a quiet moment early (stop). */
  private wake: (() => void) | undefined;

  constructor(
    private readonly db: SqlClient,
    /** How many writes the store has made so far (any count that rises with each). */
    private readonly writes: () => number,
    private readonly events: { onVacuum?: (report: VacuumReport) => void; onError?: (error: unknown) => void } = {},
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
    this.wake?.();
    await this.running;
  }

  /** Counts the dead rows and vacuums when they call for it; one at a time. */
  check(): Promise<void> {
    this.running ??= this.vacuumIfDue()
      .catch((error: unknown) => this.events.onError?.(error))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async vacuumIfDue(): Promise<void> {
    if (this.stopped) return;
    await this.db.query(FLUSH_STATISTICS);
    const { rows } = await this.db.query<{ table: string; dead: string | number }>(DEAD_ROWS);
    const deadRows = rows.reduce((sum, r) => sum + Number(r.dead), 0);
    const forced = deadRows >= this.options.maxDeadRows;
    if (!forced && (deadRows < this.options.minDeadRows || !(await this.quiet()))) return;
    const started = performance.now();
    const tables: string[] = [];
    for (const { table } of rows) {
      if (this.stopped) break;
      await this.db.exec(`VACUUM (ANALYZE) ${quoted(table)}`);
      tables.push(table);
    }
    if (tables.length > 0) this.events.onVacuum?.({ tables, deadRows, ms: performance.now() - started, forced });
  }

  /** No write for quietMs from now (the mesh's background reads poll the database all the time, its writes do not). */
  private async quiet(): Promise<boolean> {
    const before = this.writes();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.options.quietMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    return !this.stopped && this.writes() === before;
  }
}
