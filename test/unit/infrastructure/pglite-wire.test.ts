import { protocol } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { AnswerDecoder, RunEncoder, type ReadColumn, type WireValue } from '../../../src/infrastructure/persistence/pglite-wire.js';

/** A backend message: type byte, length, body. */
function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function dataRow(...values: Array<string | null>): Buffer {
  const parts = [Buffer.from([values.length >> 8, values.length & 0xff])];
  for (const value of values) {
    const size = Buffer.alloc(4);
    if (value === null) {
      size.writeInt32BE(-1);
      parts.push(size);
    } else {
      const bytes = Buffer.from(value, 'utf8');
      size.writeInt32BE(bytes.length);
      parts.push(size, bytes);
    }
  }
  return message('D', Buffer.concat(parts));
}

const READY = message('Z', Buffer.from('I'));
const TEXT = 25;
const COLUMNS: ReadColumn[] = [
  { name: 'id', typeId: TEXT, parse: undefined },
  { name: 'note', typeId: TEXT, parse: undefined },
];

function decode(pieces: Buffer[]): AnswerDecoder {
  const decoder = new AnswerDecoder();
  decoder.start();
  for (const piece of pieces) decoder.receive(piece);
  return decoder;
}

describe('the PGlite wire messages of a named statement', () => {
  it('writes Bind with every parameter (text, bytes, null), then Execute and Sync, as the protocol lays them out', () => {
    const values: WireValue[] = ['é', Buffer.from([1, 2, 3]), null];
    const written = Buffer.from(new RunEncoder().encode('stmt', values));
    const bind = Buffer.from(protocol.serialize.bind({ statement: 'stmt', values: ['é', Buffer.from([1, 2, 3]), null] }));
    // pg-protocol sends no result format codes (all text); this sends one, text: the same request.
    expect(written.subarray(0, 1).toString('latin1')).toBe('B');
    const ours = written.subarray(5, written.readUInt32BE(1) + 1);
    const theirs = bind.subarray(5);
    expect(ours.subarray(0, ours.length - 4)).toEqual(theirs.subarray(0, theirs.length - 2));
    expect([...ours.subarray(ours.length - 4)]).toEqual([0, 1, 0, 0]);
    expect(written.subarray(written.readUInt32BE(1) + 1)).toEqual(Buffer.concat([protocol.serialize.execute({}), protocol.serialize.sync()]));
  });

  it('refuses a parameter that is neither text nor bytes, instead of sending what the buffer held before', () => {
    const encoder = new RunEncoder();
    encoder.encode('stmt', ['SECRET-PARAM-VALUE']);
    expect(() => encoder.encode('stmt', [new ArrayBuffer(3) as unknown as WireValue])).toThrow(/neither text nor bytes/);
  });

  it('reads rows from an answer that came in pieces, NULLs and many-byte text included', () => {
    const answer = Buffer.concat([message('2', Buffer.alloc(0)), dataRow('a', 'é€𝄞'), dataRow('b', null), message('C', Buffer.from('SELECT 2\0')), READY]);
    const pieces = [answer.subarray(0, 7), answer.subarray(7, 20), answer.subarray(20)];
    expect(decode(pieces).rows(COLUMNS)).toEqual([{ id: 'a', note: 'é€𝄞' }, { id: 'b', note: null }]);
  });

  it('keeps a column named __proto__ a field of the row, never its prototype', () => {
    const columns: ReadColumn[] = [{ name: '__proto__', typeId: 114, parse: (text: string) => JSON.parse(text) as unknown }];
    const [row] = decode([dataRow('{"polluted":1}'), READY]).rows<Record<string, unknown>>(columns);
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.getOwnPropertyNames(row)).toEqual(['__proto__']);
    expect((row as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('refuses an answer that does not end in ReadyForQuery (cut short, or empty) rather than read it as no rows', () => {
    expect(() => decode([]).rows(COLUMNS)).toThrow(/incomplete/);
    expect(() => decode([dataRow('a', 'b')]).rows(COLUMNS)).toThrow(/incomplete/);
    expect(() => decode([dataRow('a', 'b').subarray(0, 9)]).rows(COLUMNS)).toThrow(/incomplete|cut short/);
  });

  it("throws the answer's first error with its fields, after reading the whole answer", () => {
    const fields = Buffer.from('SERROR\0C23505\0Mduplicate key\0Dthe detail\0ntasks_pkey\0\0', 'utf8');
    const error = (() => {
      try {
        decode([message('E', fields), message('E', Buffer.from('SERROR\0C25P02\0Msecond\0\0')), READY]).rows(COLUMNS);
      } catch (failure) {
        return failure;
      }
    })();
    expect(error).toBeInstanceOf(protocol.messages.DatabaseError);
    expect(error).toMatchObject({ message: 'duplicate key', code: '23505', detail: 'the detail', constraint: 'tasks_pkey', severity: 'ERROR' });
  });

  it('refuses a row whose column count differs from the statement description', () => {
    expect(() => decode([dataRow('only one'), READY]).rows(COLUMNS)).toThrow(/1 columns .* described with 2/);
  });
});
