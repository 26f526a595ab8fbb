import pg from 'pg';
import type { SqlClient, SqlExecutor } from './sql-client.js';

/** int8 columns hold epoch milliseconds and counters, all below 2^53: numbers, not strings. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  /** Connections in the pool. */
  maxConnections: number;
  /** Shown in pg_stat_activity, so operators can tell the mesh's sessions apart. */
  applicationName: string;
}

/** PostgreSQL over a node-postgres pool. */
export class PostgresClient implements SqlClient {
  private constructor(private readonly pool: pg.Pool) {}

  /** Connects once to prove the URL works; the error says what went wrong. */
  static async connect(url: string, options: PostgresOptions): Promise<PostgresClient> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections,
      application_name: options.applicationName,
      connectionTimeoutMillis: 10_000,
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
    return new PostgresClient(pool);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<{ rows: T[] }> {
    const result = await this.pool.query(sql, params);
    return { rows: result.rows as T[] };
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work({
        query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await client.query(sql, params)).rows as R[] }),
        exec: async (sql: string) => void (await client.query(sql)),
      });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Holds a session-level advisory lock on a connection of its own for as long as the returned
   * release function is not called. False when another session holds it.
   */
  async tryHoldAdvisoryLock(key: number): Promise<(() => Promise<void>) | undefined> {
    const client = await this.pool.connect();
    // A checked-out client that loses its connection emits 'error'; without a listener that is a crash.
    client.on('error', () => {});
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [key]);
    if (!rows[0]?.locked) {
      client.release();
      return undefined;
    }
    return async () => {
      await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {});
      client.release();
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
