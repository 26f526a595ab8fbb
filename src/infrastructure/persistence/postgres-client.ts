import pg from 'pg';
import { UnavailableError } from '../../domain/index.js';
import { DependencyPolicy } from '../resilience/dependency-policy.js';
import type { ResilienceRegistry } from '../resilience/observer.js';
import { asUnavailable, isDatabaseUnreachable, neverReachedServer } from './postgres-errors.js';
import type { SqlClient, SqlExecutor, Statement } from './sql-client.js';
import { PLAIN } from '../../domain/plain.js';

/** node-postgres's form of a statement: a named one is prepared once on each connection. */
const pgQuery = (sql: Statement, values: unknown[]): pg.QueryConfig => (typeof sql === 'string' ? { text: sql, values } : { name: sql.name, text: sql.text, values });

/** int8 columns hold epoch milliseconds and counters, all below 2^53: numbers, not strings. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  /** Connections in the pool (the instance lock takes one more of its own). */
  maxConnections: number;
  /** Shown in pg_stat_activity, so operators can tell the mesh's sessions apart. */
  applicationName: string;
  /** Where the database's circuit breaker, retry, bulkhead and timeout report (metrics, logs). */
  resilience?: ResilienceRegistry;
}

/**
 * The database's policies: a run of failures to reach it opens the breaker (calls fail fast with
 * a 503 until a probe succeeds), a statement is tried again only when it never reached the server,
 * at most pool-size calls run at once with a bounded queue, and each gets the statement timeout.
 */
function databasePolicy(options: PostgresOptions): DependencyPolicy {
  return DependencyPolicy.preset('forDatabase', 'database', options.resilience, {
    breaker: { isFailure: (error) => error instanceof UnavailableError },
    retry: { isRetryable: neverReachedServer },
    bulkhead: { maxConcurrent: options.maxConnections },
    timeoutMs: STATEMENT_TIMEOUT_MS,
  });
}

/** A statement that hangs (a network that black-holes packets) fails instead of holding a request forever. */
const STATEMENT_TIMEOUT_MS = 30_000;

/** PostgreSQL over a node-postgres pool, every call through the database's resilience policies. */
export class PostgresClient implements SqlClient {
  private constructor(
    private readonly pool: pg.Pool,
    readonly policy: DependencyPolicy,
  ) {}

  /** Connects once to prove the URL works; the error says what went wrong. */
  static async connect(url: string, options: PostgresOptions): Promise<PostgresClient> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections,
      application_name: options.applicationName,
      connectionTimeoutMillis: 5_000,
      query_timeout: STATEMENT_TIMEOUT_MS,
      types,
    });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    try {
      const probe = await pool.connect();
      probe.release();
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresClient(pool, databasePolicy(options));
  }

  query<T>(sql: Statement, params: unknown[] = []): Promise<{ rows: T[] }> {
    return this.policy.execute(async () => {
      try {
        const result = await this.pool.query(pgQuery(sql, params));
        return { rows: result.rows as T[] };
      } catch (error) {
        throw asUnavailable(error);
      }
    });
  }

  /** Migrations and DDL at start: outside the policies, since a migration may rightly take longer than a statement's budget. */
  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.policy.execute(() => this.runTransaction(work));
  }

  private async runTransaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch((error: unknown) => {
      throw asUnavailable(error);
    });
    // Checked out, a client has no listener of the pool's: a connection dying under the transaction
    // (the server killed) would be an unhandled 'error' event, and the end of the process.
    let lost: Error | undefined;
    const onLost = (error: Error) => (lost = error);
    client.on('error', onLost);
    try {
      await client.query('BEGIN');
      const result = await work({
        query: async <R>(sql: Statement, params: unknown[] = []) => ({ rows: (await client.query(pgQuery(sql, params))).rows as R[] }),
        exec: async (sql: string) => void (await client.query(sql)),
      });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (lost === undefined && !isDatabaseUnreachable(error)) await client.query('ROLLBACK').catch(() => {});
      else lost ??= error as Error;
      throw asUnavailable(error);
    } finally {
      client.off('error', onLost);
      // A broken connection is dropped from the pool, not handed to the next caller.
      client.release(lost);
    }
  }

  /**
   * Takes a session-level advisory lock on a connection of its own and keeps it for as long as
   * that connection lives. Undefined when another session holds it. `onConnectionLost` runs if
   * the connection dies (the lock dies with it). `pid` is its server process, as `pg_locks` shows it.
   */
  async tryAdvisoryLockSession(key: number, onConnectionLost: (error: Error) => void): Promise<{ pid: number; release(): Promise<void> } | undefined> {
    // Keepalives both ways: the holder notices a dead link, and the server drops a vanished holder's session (and lock) within ~25 s.
    const client = new pg.Client({ ...PLAIN, ...this.pool.options, types, keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as pg.ClientConfig);
    let released = false;
    // Without an 'error' listener a dying connection would crash the process.
    client.on('error', (error) => {
      if (!released) onConnectionLost(error);
    });
    client.on('end', () => {
      if (!released) onConnectionLost(new Error('the lock connection ended'));
    });
    let pid: number;
    try {
      await client.connect();
      await client.query('SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3');
      const { rows } = await client.query<{ locked: boolean; pid: number }>('SELECT pg_try_advisory_lock($1) AS locked, pg_backend_pid() AS pid', [key]);
      if (!rows[0]?.locked) {
        released = true;
        await client.end();
        return undefined;
      }
      pid = rows[0].pid;
    } catch (error) {
      released = true;
      await client.end().catch(() => {});
      throw asUnavailable(error);
    }
    return {
      pid,
      release: async () => {
        if (released) return;
        released = true;
        await client.end().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
