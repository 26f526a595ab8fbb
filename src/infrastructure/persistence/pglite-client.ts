import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import { DataDirLock } from './data-dir-lock.js';
import { statementText, type SqlClient, type SqlExecutor, type Statement } from './sql-client.js';

/** Bytes (jsonParam) go as they are, in json's binary form; anything else as PGlite would send it. */
const serializeJson = (value: unknown): string => (value instanceof Uint8Array ? (value as unknown as string) : typeof value === 'string' ? value : JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
const OPTIONS = { serializers: { [types.JSON]: serializeJson } };

/**
 * Embedded PostgreSQL (WASM) on disk, or in memory when `dataDir` is undefined. A directory is
 * locked while it is open (DataDirLock): a second open, here or in another process, is refused.
 */
export class PgliteClient implements SqlClient {
  private constructor(
    private readonly db: PGlite,
    private readonly lock: DataDirLock | undefined,
  ) {}

  static async open(dataDir: string | undefined): Promise<PgliteClient> {
    if (dataDir === undefined) return new PgliteClient(await PGlite.create(undefined, OPTIONS), undefined);
    mkdirSync(dataDir, { recursive: true });
    const lock = DataDirLock.acquire(dataDir);
    try {
      return new PgliteClient(await PGlite.create(dataDir, OPTIONS), lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  async query<T>(sql: Statement, params: unknown[] = []): Promise<{ rows: T[] }> {
    const result = await this.db.query<T>(statementText(sql), params);
    return { rows: result.rows };
  }

  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) =>
      work({
        query: async <R>(sql: Statement, params: unknown[] = []) => ({ rows: (await tx.query<R>(statementText(sql), params)).rows }),
        exec: async (sql: string) => {
          await tx.exec(sql);
        },
      }),
    );
  }

  async close(): Promise<void> {
    try {
      if (!this.db.closed) await this.db.close();
    } finally {
      this.lock?.release();
    }
  }
}
