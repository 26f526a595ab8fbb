import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PglitePreparedStatements } from '../../src/infrastructure/persistence/pglite-prepared.js';
import { PGLITE_OPTIONS, PgliteClient } from '../../src/infrastructure/persistence/pglite-client.js';
import { jsonParam, named, type SqlExecutor } from '../../src/infrastructure/persistence/sql-client.js';

const INSERT = named('test_insert', 'INSERT INTO items (id, doc) SELECT r.id, r.doc FROM json_to_recordset($1::json) AS r(id integer, doc json) RETURNING id');
const BY_ID = named('test_by_id', 'SELECT id, doc, $2::text AS note FROM items WHERE id = $1');

describe('named statements on PGlite', () => {
  let db: PGlite;
  let statements: PglitePreparedStatements;
  beforeAll(async () => {
    db = await PGlite.create(undefined, PGLITE_OPTIONS);
  });
  afterAll(async () => db.close());
  // One session for all: the statements the previous test prepared are still there under their
  // names, which a new PglitePreparedStatements does not know of (it closes and parses them again).
  beforeEach(async () => {
    await db.exec('DROP TABLE IF EXISTS items; CREATE TABLE items (id integer PRIMARY KEY, doc json)');
    statements = new PglitePreparedStatements(db, 3);
  });

  it('answers as the statement text would, parameters typed by the statement (json as bytes, numbers, text, null)', async () => {
    const inserted = await statements.run(INSERT, [jsonParam([{ id: 1, doc: { a: 'é' } }, { id: 2, doc: null }])], false);
    expect(inserted.rows).toEqual([{ id: 1 }, { id: 2 }]);
    expect((await statements.run(BY_ID, [1, 'named'], false)).rows).toEqual([{ id: 1, doc: { a: 'é' }, note: 'named' }]);
    expect((await statements.run(BY_ID, [2, null], false)).rows).toEqual((await db.query(BY_ID.text, [2, null])).rows);
    expect((await statements.run(BY_ID, [3, 'none'], false)).rows).toEqual([]);
    const anyOf = named('test_any_of', 'SELECT id FROM items WHERE id = ANY($1::integer[]) AND $2::text[] IS NOT NULL ORDER BY id');
    expect((await statements.run(anyOf, [[1, 2, 3], ['a', 'b,c', 'd"e']], false)).rows).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it("reads every column type the mesh stores as PGlite's own query does, large rows and many-byte text included", async () => {
    await db.exec(`DROP TABLE IF EXISTS typed; CREATE TABLE typed (
      id text PRIMARY KEY, n integer, big bigint, ratio double precision, ok boolean, at timestamptz, doc json, bin jsonb,
      tags text[], raw bytea, note text)`);
    const insert = named('test_typed_insert', 'INSERT INTO typed VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *');
    const large = 'é€𝄞'.repeat(40_000); // 360 KB of UTF-8: more than one piece of PGlite's answer, and past the reused buffers' first size
    const rows = [
      ['a', 1, 9007199254740991n, 0.25, true, new Date('2026-12-06T12:00:00.123Z'), { nested: ['x', 1, null] }, { b: true }, ['p', 'q,r', 's"t', ''], Buffer.from([0, 1, 255]), 'plain'],
      ['b', null, null, null, null, null, null, null, null, null, null],
      ['c', -7, -1n, -1e300, false, new Date(0), [large], '"just text"', [], Buffer.alloc(0), large],
    ];
    for (const row of rows) {
      const named = (await statements.run<Record<string, unknown>>(insert, row, false)).rows;
      const own = (await db.query<Record<string, unknown>>('SELECT * FROM typed WHERE id = $1', [row[0]])).rows;
      expect(named).toEqual(own);
    }
    const all = named('test_typed_all', 'SELECT * FROM typed ORDER BY id');
    expect((await statements.run(all, [], false)).rows).toEqual((await db.query('SELECT * FROM typed ORDER BY id')).rows);
    const error = await statements.run(insert, rows[0]!, false).catch((failure: unknown) => failure);
    const ownError = await db.query('INSERT INTO typed (id) VALUES ($1)', ['a']).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: '23505', constraint: 'typed_pkey', table: 'typed', detail: 'Key (id)=(a) already exists.', severity: 'ERROR' });
    expect(ownError).toMatchObject({ code: '23505', constraint: 'typed_pkey', detail: 'Key (id)=(a) already exists.', message: (error as Error).message });
  });

  it("fails with the database's error (its code kept), and the statement runs again after", async () => {
    await statements.run(INSERT, [jsonParam([{ id: 1 }])], false);
    await expect(statements.run(INSERT, [jsonParam([{ id: 1 }])], false)).rejects.toMatchObject({ code: '23505' });
    await expect(statements.run(INSERT, [Buffer.from('{not json')], false)).rejects.toMatchObject({ code: '22P02' });
    expect((await statements.run(INSERT, [jsonParam([{ id: 2 }])], false)).rows).toEqual([{ id: 2 }]);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows[0]!.n).toBe(2);
  });

  it('runs a prepared statement in one exchange (bind to sync), and syncs no filesystem that has nothing to sync', async () => {
    await statements.run(INSERT, [jsonParam([{ id: 1 }])], false);
    const exchanges = vi.spyOn(db, 'execProtocolRawStream');
    const syncs = vi.spyOn(db, 'syncToFs');
    try {
      expect((await statements.run(INSERT, [jsonParam([{ id: 2 }])], false)).rows).toEqual([{ id: 2 }]);
      await expect(statements.run(INSERT, [jsonParam([{ id: 2 }])], false)).rejects.toMatchObject({ code: '23505' });
      expect(exchanges).toHaveBeenCalledTimes(2);
      // In memory there is nowhere to copy files to (on disk, NodeFS writes through): no sync.
      expect(syncs).not.toHaveBeenCalled();
    } finally {
      exchanges.mockRestore();
      syncs.mockRestore();
    }
  });

  it('fails inside a transaction as the protocol says: the transaction is aborted until it rolls back', async () => {
    await expect(
      db.transaction(async () => {
        await expect(statements.run(INSERT, [Buffer.from('{not json')], true)).rejects.toMatchObject({ code: '22P02' });
        await statements.run(INSERT, [jsonParam([{ id: 5 }])], true);
      }),
    ).rejects.toMatchObject({ code: '25P02' });
    expect((await statements.run(BY_ID, [5, 'rolled back'], false)).rows).toEqual([]);
    expect((await statements.run(INSERT, [jsonParam([{ id: 5 }])], false)).rows).toEqual([{ id: 5 }]);
  });

  it('takes part in a transaction: rolled back with it, and still prepared after', async () => {
    await expect(
      db.transaction(async () => {
        await statements.run(INSERT, [jsonParam([{ id: 7 }])], true);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await statements.run(BY_ID, [7, 'gone'], false)).rows).toEqual([]);
    await db.transaction(async () => {
      await statements.run(INSERT, [jsonParam([{ id: 8 }])], true);
    });
    expect((await statements.run(BY_ID, [8, 'kept'], false)).rows).toHaveLength(1);
    expect(statements.preparations).toBe(2);
  });

  it('parses a statement again after the given number of runs, in transactions too, and refuses two texts under one name', async () => {
    for (let i = 1; i <= 7; i++) await statements.run(INSERT, [jsonParam([{ id: i }])], false);
    // Parsed at runs 1, 4 and 7 (every 3 runs).
    expect(statements.preparations).toBe(3);
    await db.transaction(async () => {
      for (let i = 8; i <= 10; i++) await statements.run(INSERT, [jsonParam([{ id: i }])], true);
    });
    expect(statements.preparations).toBe(4);
    expect((await statements.run(BY_ID, [10, 'x'], false)).rows).toHaveLength(1);
    await expect(statements.run(named('test_insert', 'SELECT 1'), [], false)).rejects.toThrow("two statements are named 'test_insert'");
  });

  it('says a closed database is closed', async () => {
    const closing = await PGlite.create(undefined, PGLITE_OPTIONS);
    const on = new PglitePreparedStatements(closing);
    await on.run(BY_ID, [1, 'open'], false).catch(() => {});
    await closing.close();
    await expect(on.run(BY_ID, [1, 'closed'], false)).rejects.toThrow('PGlite is closed');
  });

  it('is what PgliteClient runs for a named statement, in and out of transactions', async () => {
    const client = await PgliteClient.open(undefined);
    try {
      await client.exec('CREATE TABLE items (id integer PRIMARY KEY, doc json)');
      await client.query(INSERT, [jsonParam([{ id: 1 }])]);
      await client.transaction(async (tx) => {
        await tx.query(INSERT, [jsonParam([{ id: 2 }])]);
        expect((await tx.query(BY_ID, [2, 'in'])).rows).toEqual([{ id: 2, doc: null, note: 'in' }]);
      });
      expect((await client.query<{ id: number }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id)).toEqual([1, 2]);
      // Run as prepared statements, not as their text.
      expect((await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((r) => r.name)).toEqual(['test_by_id', 'test_insert']);
      // A transaction that ended refuses named statements as it refuses any other.
      let ended: SqlExecutor | undefined;
      await client.transaction(async (tx) => {
        ended = tx;
      });
      await expect(ended!.query(BY_ID, [1, 'late'])).rejects.toThrow('Transaction is closed');
      await expect(ended!.query('SELECT 1')).rejects.toThrow('Transaction is closed');
    } finally {
      await client.close();
    }
  });

  it('runs one use of the database at a time: statements asked for during a transaction wait for its end, in order', async () => {
    const client = await PgliteClient.open(undefined);
    const COUNT = named('test_count', 'SELECT count(*)::int AS n FROM items WHERE $1::int IS NOT NULL');
    try {
      await client.exec('CREATE TABLE items (id integer PRIMARY KEY, doc json)');
      const seen: string[] = [];
      let inside!: () => void;
      const begun = new Promise<void>((resolve) => (inside = resolve));
      const transaction = client.transaction(async (tx) => {
        await tx.query(INSERT, [jsonParam([{ id: 1 }])]);
        inside();
        // Others ask for the database now; none may run in this transaction or see half of it.
        await new Promise((r) => setTimeout(r, 50));
        await tx.query(INSERT, [jsonParam([{ id: 2 }])]);
        seen.push('committed');
      });
      await begun;
      expect(client.pendingUses).toBe(1);
      const counts = [1, 2, 3].map((i) => client.query<{ n: number }>(COUNT, [i]).then(({ rows }) => seen.push(`count ${i}: ${rows[0]!.n}`)));
      const text = client.query<{ n: number }>('SELECT count(*)::int AS n FROM items').then(({ rows }) => seen.push(`text: ${rows[0]!.n}`));
      expect(client.pendingUses).toBe(5);
      await Promise.all([transaction, ...counts, text]);
      expect(seen).toEqual(['committed', 'count 1: 2', 'count 2: 2', 'count 3: 2', 'text: 2']);
      expect(client.pendingUses).toBe(0);
      // A failed use does not stop the ones after it.
      const failed = client.query('SELECT * FROM no_such_table');
      const after = client.query<{ n: number }>(COUNT, [4]);
      await expect(failed).rejects.toMatchObject({ code: '42P01' });
      expect((await after).rows).toEqual([{ n: 2 }]);
    } finally {
      await client.close();
    }
  });
});
