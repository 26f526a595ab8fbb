import { protocol, type PGlite } from '@electric-sql/pglite';
import { AnswerDecoder, RunEncoder, type ReadColumn, type WireValue } from './pglite-wire.js';
import type { NamedStatement } from './sql-client.js';

const { serialize } = protocol;
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
  /** Each parameter's serializer, by its type (none: sent as its string). */
  serializers: Array<((value: unknown) => WireValue) | undefined>;
  columns: ReadColumn[];
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
  private readonly encoder = new RunEncoder();
  private readonly decoder = new AnswerDecoder();
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
  async run<T>(statement: NamedStatement, params: readonly unknown[], inTransaction: boolean): Promise<{ rows: T[] }> {
    // As PGlite's own query does: a closed database says so (its module is gone).
    await this.db._checkReady();
    const prepared = await this.prepare(statement);
    const values = params.map((value, i): WireValue => {
      if (value === null || value === undefined) return null;
      const serializer = prepared.serializers[i];
      return serializer ? serializer(value) : String(value);
    });
    prepared.runs++;
    // Bind, execute and sync in one exchange: after an error the server skips to the sync, as the
    // protocol says, and the error is thrown once the whole answer is read.
    const rows = await this.exchange(this.encoder.encode(statement.name, values), () => this.decoder.rows<T>(prepared.columns));
    if (!inTransaction && this.syncsFilesystem) await this.db.syncToFs();
    return { rows };
  }

  /**
   * Sends a message and reads the answer. PGlite runs the exchange synchronously inside the call,
   * so the answer is read before anything else can use the decoder's buffer; the call's promise is
   * awaited afterwards for a failure of PGlite itself.
   */
  private async exchange<R>(message: Uint8Array, read: () => R): Promise<R> {
    this.decoder.start();
    const done = this.db.execProtocolRawStream(message, { syncToFs: false, onRawData: this.decoder.receive });
    try {
      return read();
    } finally {
      await done;
    }
  }

  /**
   * The statement as parsed under its name: the first time, and again once it ran `reprepareAfter`
   * times (also inside a transaction: prepared statements are not transactional, and one whose
   * parse fails there is forgotten here, so parsed again at its next run).
   */
  private async prepare(statement: NamedStatement): Promise<Prepared> {
    const known = this.prepared.get(statement.name);
    if (known !== undefined) {
      if (known.text !== statement.text) throw new Error(`two statements are named '${statement.name}'`);
      if (known.runs < this.reprepareAfter) return known;
      this.prepared.delete(statement.name);
    }
    // Closing a statement that does not exist is no error: this also clears one this session parsed
    // under the name without it being recorded here (its description failed, or another instance).
    const message = Buffer.concat([
      serialize.close({ type: 'S', name: statement.name }),
      serialize.parse({ name: statement.name, text: statement.text }),
      serialize.describe({ type: 'S', name: statement.name }),
      SYNC,
    ]);
    const shape = await this.exchange(message, () => this.decoder.shape());
    // The types' serializers and parsers are looked up once here, not at every run.
    const prepared: Prepared = {
      text: statement.text,
      serializers: shape.paramTypes.map((typeId) => this.db.serializers[typeId] as ((value: unknown) => WireValue) | undefined),
      columns: shape.columns.map(({ name, typeId }) => ({ name, typeId, parse: this.db.parsers[typeId] })),
      runs: 0,
    };
    this.prepared.set(statement.name, prepared);
    this.preparations++;
    return prepared;
  }
}
