// The audit log's budget: batched appends with the hash chain against a plain batched INSERT of
// the same rows (same table shape and indexes, no chain, no head lock), in the same run; the added
// latency of one request's entry on an idle log; the CPU of hashing one entry; verification speed.
import { Bench } from 'tinybench';
import { migrate } from '../dist/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../dist/infrastructure/persistence/pglite-client.js';
import { PostgresClient } from '../dist/infrastructure/persistence/postgres-client.js';
import { named } from '../dist/infrastructure/persistence/sql-client.js';
import { entryHash, GENESIS_HASH } from '../dist/infrastructure/security/audit-chain.js';
import { rowOf } from '../dist/infrastructure/security/audit-rows.js';
import { DEFAULT_AUDIT_STORE_OPTIONS, insertEntries, SqlAuditStore } from '../dist/infrastructure/security/sql-audit-store.js';
import { verifyAuditLog } from '../dist/infrastructure/security/audit-verifier.js';
import { systemClock } from '../dist/infrastructure/system/system-clock.js';
import { UuidV7Generator } from '../dist/infrastructure/system/uuid-v7.js';

const TENANTS = 4;

const record = (n) => ({
  tenantId: `tenant-${n % TENANTS}`,
  actor: { type: 'key', keyId: `key-${n % 7}`, role: 'orchestrator' },
  action: 'TASK_SUBMITTED',
  resourceType: 'task',
  resourceId: `0190a1b2-c3d4-7e5f-8a9b-${String(n).padStart(12, '0')}`,
  status: 'success',
  sourceIp: '10.0.0.7',
  userAgent: 'agentmesh-sdk/0.1',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  details: { capability: 'summarize' },
});

const PLAIN_INSERT = insertEntries('audit_plain');

/** The same rows a plain batched INSERT would write: ids, seqs and (precomputed, untimed) hashes. */
function plainRows(entries) {
  const ids = new UuidV7Generator();
  const seqs = new Map();
  return Array.from({ length: entries }, (_, n) => {
    const r = record(n);
    const seq = (seqs.get(r.tenantId) ?? 0) + 1;
    seqs.set(r.tenantId, seq);
    return rowOf({ ...r, id: ids.newId(), seq, at: Date.now(), prevHash: GENESIS_HASH, hash: GENESIS_HASH });
  });
}

async function measureOn(db, { entries, soleWriter, batch = 2000 }) {
  await migrate(db);
  await db.exec('DROP TABLE IF EXISTS audit_plain; CREATE TABLE audit_plain (LIKE audit_log INCLUDING ALL)');
  const rows = plainRows(entries);
  let started = performance.now();
  for (let i = 0; i < rows.length; i += batch) await db.query(PLAIN_INSERT, [JSON.stringify(rows.slice(i, i + batch))]);
  const plainPerSecond = entries / ((performance.now() - started) / 1000);

  // The chain: many callers appending at once, as requests do; the store batches what arrives together.
  const store = new SqlAuditStore(db, systemClock, new UuidV7Generator(), { ...DEFAULT_AUDIT_STORE_OPTIONS, soleWriter });
  const callers = 256;
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < entries) {
        const n = next;
        next += 16;
        await store.append(Array.from({ length: Math.min(16, entries - n) }, (_, i) => record(n + i)));
      }
    }),
  );
  const chainedPerSecond = entries / ((performance.now() - started) / 1000);

  // One request's entry on an idle log: what a mutation waits for before its response; taken in
  // turns with the floor under it, one plain row committed by the same kind of statement.
  const latencies = [];
  const bare = [];
  const plainOne = named('bench_audit_plain_one', PLAIN_INSERT);
  const spare = plainRows(300).map((r) => ({ ...r, seq: r.seq + entries }));
  for (let i = 0; i < 300; i++) {
    let t = performance.now();
    await store.append([record(i)]);
    latencies.push(performance.now() - t);
    t = performance.now();
    await db.query(plainOne, [JSON.stringify([spare[i]])]);
    bare.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  bare.sort((a, b) => a - b);

  started = performance.now();
  const report = await verifyAuditLog(db, {});
  const verifySeconds = (performance.now() - started) / 1000;
  if (!report.intact) throw new Error(`the benchmark's own log failed verification: ${JSON.stringify(report.chains.find((c) => c.problem))}`);
  return {
    plainPerSecond,
    chainedPerSecond,
    ratio: chainedPerSecond / plainPerSecond,
    requestP50Ms: latencies[Math.floor(latencies.length * 0.5)],
    requestP99Ms: latencies[Math.floor(latencies.length * 0.99)],
    bareP50Ms: bare[Math.floor(bare.length * 0.5)],
    bareP99Ms: bare[Math.floor(bare.length * 0.99)],
    verifyPerSecond: report.entries / verifySeconds,
    verified: report.entries,
  };
}

/** The embedded store: one process, so the log's only writer (heads in memory, one statement per batch). */
export async function measureAuditOnPglite({ entries }) {
  const db = await PgliteClient.open(undefined);
  try {
    return await measureOn(db, { entries, soleWriter: true });
  } finally {
    await db.close();
  }
}

/** PostgreSQL: as one instance alone on its database (sole writer), and as one of many (each batch locks the heads it extends). */
export async function measureAuditOnPostgres({ url, entries, soleWriter }) {
  const db = await PostgresClient.connect(url, { maxConnections: 4, applicationName: 'bench audit' });
  try {
    return await measureOn(db, { entries, soleWriter });
  } finally {
    await db.close();
  }
}

/** CPU of one entry's hash (canonical JSON + SHA-256), against a bare SHA-256 of its JSON. */
export async function measureHashCost() {
  const { createHash } = await import('node:crypto');
  const entry = { ...record(1), id: '0190a1b2-c3d4-7e5f-8a9b-000000000001', seq: 1, at: Date.now() };
  const json = JSON.stringify(entry);
  const bench = new Bench({ time: 500 });
  bench.add('bare sha256(JSON.stringify)', () => createHash('sha256').update(json).digest('hex')).add('entryHash (RFC 8785 + domain tag + SHA-256)', () => entryHash(GENESIS_HASH, entry));
  await bench.run();
  const [bare, chained] = bench.tasks.map((t) => t.result.latency.mean * 1000);
  return { bare, chained };
}
