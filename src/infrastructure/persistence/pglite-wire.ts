import { protocol } from '@electric-sql/pglite';

/**
 * The few messages of PostgreSQL's wire protocol that a run of a named statement needs, written
 * and read here instead of by PGlite's serializer and parser. Those build a message object per
 * row, copy every answer twice and grow a writer per bind: a stream of one-row SELECTs promoted
 * 0.75 MB at each young collection through them, 3 KB this way (docs/performance.md). Here one buffer is reused for
 * what is sent and one for what comes back, and an answer becomes its rows directly.
 */

/** A type's parser as PGlite keeps them (its `db.parsers`): text in, value out. */
export type Parser = (text: string, typeId?: number) => unknown;

/** A parameter as PGlite's serializers make it: text, or bytes sent in the type's binary form. */
export type WireValue = string | Uint8Array | null;

/** What a statement's description gives once: its parameters' types and its columns. */
export interface StatementShape {
  paramTypes: number[];
  columns: Array<{ name: string; typeId: number }>;
}

/** A result column as rows are read: its name, and its type's parser (none: the text as it is). */
export interface ReadColumn {
  name: string;
  typeId: number;
  parse: Parser | undefined;
}

const EXECUTE_AND_SYNC = Buffer.concat([protocol.serialize.execute({}), protocol.serialize.sync()]);
const INITIAL_BYTES = 64 * 1024;
/** A buffer grown past this for one large statement or answer goes back to the initial size after it. */
const KEPT_BYTES = 1024 * 1024;

/** Bytes that grow as needed and shrink back once a large message is done. */
class ReusedBuffer {
  bytes = Buffer.allocUnsafe(INITIAL_BYTES);
  length = 0;

  ensure(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.bytes.length * 2));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  /** Forget the content; a buffer grown for a large message is let go. */
  reset(): void {
    this.length = 0;
    if (this.bytes.length > KEPT_BYTES) this.bytes = Buffer.allocUnsafe(INITIAL_BYTES);
  }
}

/** Writes Bind (all parameters, text results), Execute and Sync for a named statement into one reused buffer. */
export class RunEncoder {
  private readonly out = new ReusedBuffer();

  /** The message, valid until the next call (the exchange reads it at once). */
  encode(statementName: string, values: readonly WireValue[]): Uint8Array {
    const out = this.out;
    out.reset();
    const count = values.length;
    out.ensure(1 + 4 + 1 + Buffer.byteLength(statementName) + 1 + 2 + 2 * count + 2);
    const b = out.bytes;
    let at = 0;
    b[at++] = 0x42; // 'B'
    at += 4; // length, written at the end
    b[at++] = 0; // unnamed portal
    at += b.write(statementName, at, 'utf8');
    b[at++] = 0;
    at = b.writeUInt16BE(count, at);
    for (const value of values) {
      if (value !== null && typeof value !== 'string' && !(value instanceof Uint8Array)) throw new TypeError(`a parameter of '${statementName}' is neither text nor bytes`);
      at = b.writeUInt16BE(value instanceof Uint8Array ? 1 : 0, at);
    }
    at = b.writeUInt16BE(count, at);
    out.length = at;
    for (const value of values) {
      if (value === null) {
        out.ensure(4);
        out.length = out.bytes.writeInt32BE(-1, out.length);
      } else if (typeof value === 'string') {
        out.ensure(4 + value.length * 3);
        const written = out.bytes.write(value, out.length + 4, 'utf8');
        out.bytes.writeInt32BE(written, out.length);
        out.length += 4 + written;
      } else {
        // Bytes: sent in the type's binary form (json's is its text).
        out.ensure(4 + value.byteLength);
        out.bytes.writeInt32BE(value.byteLength, out.length);
        out.bytes.set(value, out.length + 4);
        out.length += 4 + value.byteLength;
      }
    }
    out.ensure(2 + 2 + EXECUTE_AND_SYNC.length);
    const end = out.bytes;
    let tail = end.writeUInt16BE(1, out.length); // one result format for all columns:
    tail = end.writeUInt16BE(0, tail); // text
    end.writeInt32BE(tail - 1, 1);
    end.set(EXECUTE_AND_SYNC, tail);
    out.length = tail + EXECUTE_AND_SYNC.length;
    return end.subarray(0, out.length);
  }
}

/** PGlite's error for an ErrorResponse, with the same fields as the one its parser makes. */
function databaseError(b: Buffer, start: number, end: number, length: number): Error {
  const fields: Record<string, string> = {};
  let at = start;
  while (at < end && b[at] !== 0) {
    const type = String.fromCharCode(b[at]!);
    const stop = b.indexOf(0, at + 1);
    fields[type] = b.toString('utf8', at + 1, stop);
    at = stop + 1;
  }
  const error = new protocol.messages.DatabaseError(fields.M ?? '', length, 'error');
  Object.assign(error, {
    severity: fields.S,
    code: fields.C,
    detail: fields.D,
    hint: fields.H,
    position: fields.P,
    internalPosition: fields.p,
    internalQuery: fields.q,
    where: fields.W,
    schema: fields.s,
    table: fields.t,
    column: fields.c,
    dataType: fields.d,
    constraint: fields.n,
    file: fields.F,
    line: fields.L,
    routine: fields.R,
  });
  return error;
}

/**
 * Collects what PGlite writes back during one exchange (it may come in several pieces) and reads
 * it: the rows of a run, or a statement's description. The first ErrorResponse is thrown after the
 * whole answer is read, as PGlite does.
 */
export class AnswerDecoder {
  private readonly answer = new ReusedBuffer();
  /** Given to PGlite as its write callback: copies each piece, since it is a view on PGlite's memory. */
  readonly receive = (piece: Uint8Array): void => {
    this.answer.ensure(piece.byteLength);
    this.answer.bytes.set(piece, this.answer.length);
    this.answer.length += piece.byteLength;
  };

  /** Forget any answer, before an exchange. */
  start(): void {
    this.answer.reset();
  }

  /** The rows of a run's answer, as objects keyed by column name, each value through its column's parser. */
  rows<T>(columns: readonly ReadColumn[]): T[] {
    const rows: T[] = [];
    const b = this.answer.bytes;
    this.each((type, start) => {
      if (type !== 0x44 /* D: DataRow */) return;
      if (b.readUInt16BE(start) !== columns.length) throw new Error(`a row of ${b.readUInt16BE(start)} columns for a statement described with ${columns.length}`);
      const row: Record<string, unknown> = {};
      let at = start + 2;
      for (const column of columns) {
        const size = b.readInt32BE(at);
        at += 4;
        let value: unknown = null;
        if (size >= 0) {
          const text = b.toString('utf8', at, at + size);
          at += size;
          value = column.parse === undefined ? text : column.parse(text, column.typeId);
        }
        // A column named __proto__ stays a field of the row, as PGlite's own rows have it.
        if (column.name === '__proto__') Object.defineProperty(row, column.name, { value, enumerable: true, writable: true, configurable: true });
        else row[column.name] = value;
      }
      rows.push(row as T);
    });
    return rows;
  }

  /** A statement's parameter types and columns, from the answer to Describe of the statement. */
  shape(): StatementShape {
    const b = this.answer.bytes;
    const shape: StatementShape = { paramTypes: [], columns: [] };
    this.each((type, start) => {
      if (type === 0x74 /* t: ParameterDescription */) {
        const count = b.readUInt16BE(start);
        for (let i = 0; i < count; i++) shape.paramTypes.push(b.readUInt32BE(start + 2 + 4 * i));
      } else if (type === 0x54 /* T: RowDescription */) {
        const count = b.readUInt16BE(start);
        let at = start + 2;
        for (let i = 0; i < count; i++) {
          const stop = b.indexOf(0, at);
          const name = b.toString('utf8', at, stop);
          at = stop + 1 + 4 + 2; // table oid, column number
          shape.columns.push({ name, typeId: b.readUInt32BE(at) });
          at += 4 + 2 + 4 + 2; // type oid, size, modifier, format
        }
      }
    });
    return shape;
  }

  /**
   * Visits each message of the answer; then throws the answer's first ErrorResponse, as PGlite
   * does, or an error if the answer is not whole.
   */
  private each(visit: (type: number, start: number) => void): void {
    const b = this.answer.bytes;
    const total = this.answer.length;
    let at = 0;
    let last = 0;
    let error: Error | undefined;
    while (at + 5 <= total) {
      const length = b.readUInt32BE(at + 1);
      const end = at + 1 + length;
      if (end > total) throw new Error(`the database's answer was cut short (${total} bytes, a message of ${length} at ${at})`);
      last = b[at]!;
      if (last === 0x45 /* E: ErrorResponse */) error ??= databaseError(b, at + 5, end, length);
      else visit(last, at + 5);
      at = end;
    }
    // Every exchange ends in Sync, so a whole answer ends in ReadyForQuery: anything else is not one
    // (an exchange that did not run, or ran after the call returned), never "no rows".
    if (last !== 0x5a /* Z */ || at !== total) throw new Error(`the database's answer is incomplete (${total} bytes, not ending in ReadyForQuery)`);
    if (error !== undefined) throw error;
  }
}
