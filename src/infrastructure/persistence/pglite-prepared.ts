import { parse, protocol, type PGlite, type Results } from '@electric-sql/pglite';
import type { NamedStatement } from './sql-client.js';

const { serialize } = protocol;
type BackendMessage = Awaited<ReturnType<PGlite['execProtocol']>>['messages'][number];

const DESCRIBE_PORTAL = serialize.describe({ type: 'P' });
const EXECUTE = serialize.execute({});
const SYNC = serialize.sync();

/** Whether any of the database's mounts keeps files that PGlite's syncToFs must copy somewhere. */
function filesystemSyncs(db: PGlite): boolean {
  const fs = db.Module.FS as { root: { mount: unknown }; getMounts(mount: unknown): Array<{ type: { syncfs?: unknown } }> };
  return fs.getMounts(fs.root.mount).some((mount) => typeof mount.type.syncfs === 'function');
}

/** Runs of a statement after which it is parsed again, so that its plan follows the tables' growth. */
export const DEFAULT_REPREPARE_AFTER = 1000;

interface Prepared {
  /** Kept to catch two texts under one name. */
  text: string;
  paramTypes: number[];
  runs: number;
}

/**
 * Named statements on PGlite, parsed once and then bound and executed by name. PGlite's `query`
 * sends every statement's text to be parsed and planned again: for the task write batch that was
 * 1.6 ms of each commit on the mesh's thread, whatever the batch's size (0.2 ms prepared).
 *
 * After a few runs PostgreSQL may keep one plan for any parameters, costed on the tables' sizes of
 * that moment; PGlite has no autovacuum to make it plan again as they grow, so a plan made while a
 * table was small would scan it whole for good. Each statement is therefore parsed again every
 * `reprepareAfter` runs. A prepared statement outlives a failed transaction, as on a server.
 */
export class PglitePreparedStatements {
  private readonly prepared = new Map<string, Prepared>();
  /** How many times a statement was parsed, in all. */
  preparations = 0;

  /**
   * Whether a commit must be followed by PGlite's sync of its filesystem. That sync copies files
   * kept in memory to where they persist (IndexedDB, OPFS); NodeFS writes through to disk and memory
   * has nowhere to copy to, so their mounts have nothing to sync. Skipping it there saves a lock,
   * promises and a walk of the mounts at every statement.
   */
  private readonly syncsFilesystem: boolean;

  constructor(
    private readonly db: PGlite,
    private readonly reprepareAfter = DEFAULT_REPREPARE_AFTER,
  ) {
    this.syncsFilesystem = filesystemSyncs(db);
  }

  /**
   * Runs the statement. The caller has the database to itself meanwhile (`PgliteClient` runs one
   * use of it at a time): PGlite's own locks are not taken, which kept objects alive across young
   * collections at every statement (see PgliteClient). `inTransaction`: inside a transaction the
   * caller holds (no sync to disk).
   */
  async run<T>(statement: NamedStatement, params: readonly unknown[], inTransaction: boolean): Promise<Results<T>> {
    // As PGlite's own query does: a closed database says so (its module is gone).
    await this.db._checkReady();
    return this.execute<T>(statement, params, inTransaction);
  }

  private async execute<T>(statement: NamedStatement, params: readonly unknown[], inTransaction: boolean): Promise<Results<T>> {
    const send = async (message: Uint8Array) => (await this.db.execProtocol(message, { syncToFs: false })).messages;
    let prepared: Prepared;
    try {
      prepared = await this.prepare(statement, send);
    } catch (error) {
      await send(SYNC);
      throw error;
    }
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = this.db.serializers[prepared.paramTypes[i]!];
      return serializer ? serializer(value) : String(value);
    });
    prepared.runs++;
    // Bind, describe, execute and sync in one call: after an error the server skips to the sync, as
    // the protocol says, and PGlite throws it once the exchange is over.
    const messages = await send(Buffer.concat([serialize.bind({ statement: statement.name, values }), DESCRIBE_PORTAL, EXECUTE, SYNC]));
    if (!inTransaction && this.syncsFilesystem) await this.db.syncToFs();
    return parse.parseResults(messages, this.db.parsers)[0] as Results<T>;
  }

  /**
   * The statement as parsed under its name: the first time, and again once it ran `reprepareAfter`
   * times (also inside a transaction: prepared statements are not transactional, and one whose
   * parse fails there is forgotten here, so parsed again at its next run).
   */
  private async prepare(statement: NamedStatement, send: (message: Uint8Array) => Promise<BackendMessage[]>): Promise<Prepared> {
    const known = this.prepared.get(statement.name);
    if (known !== undefined) {
      if (known.text !== statement.text) throw new Error(`two statements are named '${statement.name}'`);
      if (known.runs < this.reprepareAfter) return known;
      this.prepared.delete(statement.name);
    }
    // Closing a statement that does not exist is no error: this also clears one this session parsed
    // under the name without it being recorded here (its description failed, or another instance).
    await send(serialize.close({ type: 'S', name: statement.name }));
    await send(serialize.parse({ name: statement.name, text: statement.text }));
    const described = await send(serialize.describe({ type: 'S', name: statement.name }));
    const prepared = { text: statement.text, paramTypes: parse.parseDescribeStatementResults(described), runs: 0 };
    this.prepared.set(statement.name, prepared);
    this.preparations++;
    return prepared;
  }
}
