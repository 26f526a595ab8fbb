import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import { DataDirLock } from './data-dir-lock.js';
import { extractTar } from './extract-tar.js';
import { restrictToOwner } from './owner-only.js';
import { PglitePreparedStatements } from './pglite-prepared.js';
import { pgliteTemplate } from './pglite-template.js';
import { type SqlClient, type SqlExecutor, type Statement } from './sql-client.js';
import { PLAIN } from '../../domain/plain.js';

/** Bytes (jsonParam) go as they are, in json's binary form; anything else as PGlite would send it. */
const serializeJson = (value: unknown): string => (value instanceof Uint8Array ? (value as unknown as string) : typeof value === 'string' ? value : JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
/**
 * PostgreSQL's buffer pool: PGlite's default is 128 MB, allocated and set up at every start. 32 MB
 * starts ~170 ms of CPU sooner and holds ~120 MB less memory. A store of 100,000 tasks (1.2 GB on
 * disk) was written as fast, and read at random as fast, as with 128 MB (docs/performance.md,
 * twentieth session): pages beyond the pool come back from the operating system's file cache.
 */
const SHARED_BUFFERS = '32MB';
export const PGLITE_OPTIONS = {
  serializers: { [types.JSON]: serializeJson },
  startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
};

/** Removes what appeared in `dir` since `before` was listed: what a failed load wrote, not the user's files. */
function removeAddedSince(dir: string, before: ReadonlySet<string>): void {
  for (const name of readdirSync(dir)) if (!before.has(name)) rmSync(join(dir, name), { recursive: true, force: true });
}

/**
 * A new database: from the build's template when there is one, instead of running initdb. On disk
 * the template is written into the directory with Node's file calls and then opened as an existing
 * data directory (0.2–0.4 s), rather than loaded through PGlite's WASM file layer (0.6–1 s); in
 * memory PGlite loads it. A template that cannot be loaded (damaged since the build) does not stop
 * it: what each failed attempt wrote into the directory is removed (what was there before stays),
 * PGlite's own loader is tried, and failing that the database runs initdb.
 */
async function createNew(dataDir: string | undefined): Promise<PGlite> {
  const bytes = pgliteTemplate();
  if (bytes === undefined) return PGlite.create(dataDir, PGLITE_OPTIONS);
  if (dataDir === undefined) return PGlite.create(undefined, { ...PLAIN, ...PGLITE_OPTIONS, loadDataDir: new Blob([bytes]) }).catch(() => PGlite.create(undefined, PGLITE_OPTIONS));
  const before = new Set(readdirSync(dataDir));
  try {
    // PG_VERSION last: a start cut short meanwhile leaves a directory the next start takes as new and fills again.
    extractTar(bytes, dataDir, 'PG_VERSION');
    return await PGlite.create(dataDir, PGLITE_OPTIONS);
  } catch {
    removeAddedSince(dataDir, before);
  }
  try {
    return await PGlite.create(dataDir, { ...PLAIN, ...PGLITE_OPTIONS, loadDataDir: new Blob([bytes]) });
  } catch {
    removeAddedSince(dataDir, before);
    return PGlite.create(dataDir, PGLITE_OPTIONS);
  }
}

/** One piece of work at a time, in the order asked. */
class Turns {
  private tail: Promise<unknown> = Promise.resolve();
  /** Work asked for and not yet finished (the one running included). */
  pending = 0;

  run<T>(work: () => Promise<T>): Promise<T> {
    this.pending++;
    const done = () => this.pending--;
    const result = this.tail.then(work);
    this.tail = result.then(done, done);
    return result;
  }
}

/**
 * Embedded PostgreSQL (WASM) on disk, or in memory when `dataDir` is undefined. A directory is
 * locked while it is open (DataDirLock): a second open, here or in another process, is refused.
 *
 * Every use of the database (a statement, a script, a transaction, the dump, the close) takes its
 * turn here, one at a time, so the named statements need none of PGlite's own locks. Those are the
 * `async-mutex` it bundles, compiled to generators, which kept 0.75–0.95 MB alive at each young
 * collection under a stream of statements (pauses of 2.1–2.8 ms instead of 0.5). Work inside a
 * transaction must use the transaction's executor: a call to this client from inside it would wait
 * for the transaction's own turn to end.
 */
export class PgliteClient implements SqlClient {
  private readonly prepared: PglitePreparedStatements;
  private readonly turns = new Turns();

  private constructor(
    private readonly db: PGlite,
    private readonly lock: DataDirLock | undefined,
    /** This open made the database (a new directory, or memory). */
    readonly created: boolean,
  ) {
    this.prepared = new PglitePreparedStatements(db);
  }

  static async open(dataDir: string | undefined): Promise<PgliteClient> {
    if (dataDir === undefined) return new PgliteClient(await createNew(undefined), undefined, true);
    mkdirSync(dataDir, { recursive: true });
    const lock = DataDirLock.acquire(dataDir);
    try {
      // Under the lock: no other process is initialising the directory meanwhile.
      const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
      const db = fresh ? await createNew(dataDir) : await PGlite.create(dataDir, PGLITE_OPTIONS);
      try {
        // Every open, so that a directory made by an earlier build is mended too.
        restrictToOwner(dataDir);
      } catch (error) {
        await db.close();
        throw error;
      }
      return new PgliteClient(db, lock, fresh);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /** Uses of the database asked for and not yet finished. */
  get pendingUses(): number {
    return this.turns.pending;
  }

  async query<T>(sql: Statement, params: unknown[] = []): Promise<{ rows: T[] }> {
    const result = await this.turns.run(() => (typeof sql === 'string' ? this.db.query<T>(sql, params) : this.prepared.run<T>(sql, params, false)));
    return { rows: result.rows };
  }

  async exec(sql: string): Promise<void> {
    await this.turns.run(() => this.db.exec(sql));
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.turns.run(() =>
      this.db.transaction(async (tx) =>
        work({
          query: async <R>(sql: Statement, params: unknown[] = []) => {
            if (typeof sql === 'string') return { rows: (await tx.query<R>(sql, params)).rows };
            // tx.query refuses a transaction that ended; a named statement must too, or it would run in whatever holds the database next.
            if (tx.closed) throw new Error('Transaction is closed');
            return { rows: (await this.prepared.run<R>(sql, params, true)).rows };
          },
          exec: async (sql: string) => {
            await tx.exec(sql);
          },
        }),
      ),
    );
  }

  /** The data directory as a tarball, after a checkpoint (what the build keeps as the template). */
  dumpDataDir(): Promise<Blob> {
    return this.turns.run(async () => {
      await this.db.exec('CHECKPOINT');
      return this.db.dumpDataDir('none');
    });
  }

  async close(): Promise<void> {
    try {
      await this.turns.run(async () => {
        if (!this.db.closed) await this.db.close();
      });
    } finally {
      this.lock?.release();
    }
  }
}
