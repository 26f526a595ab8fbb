import type { KeyObject } from 'node:crypto';
import type { AuditVerifyRange, ChainReport, VerifyReport } from '../../application/ports.js';
import type { SqlExecutor } from '../persistence/sql-client.js';
import { checkpointMessage, entryHash, GENESIS_HASH } from './audit-chain.js';
import { entryFromRow, type AuditRow } from './audit-rows.js';
import { keyIdOf, publicKeyFromPem, verifySignature } from './audit-signing.js';

export interface VerifyOptions extends AuditVerifyRange {
  /**
   * Keys trusted to sign checkpoints. Without them, signatures are checked against the keys the
   * database lists, which proves the checkpoints were not altered, not who made them.
   */
  trustedKeys?: KeyObject[];
  /** Rows read per query. */
  pageSize?: number;
}

interface CheckpointRow {
  seq: number | string;
  hash: string;
  at: number | string;
  key_id: string;
  signature: string;
}

/**
 * Recomputes each tenant's chain from its first entry in the range: every entry must follow the
 * one before (no gap in seq), link to its hash and hash to what it says; the chain must reach its
 * recorded head; every checkpoint in the range must match the entry at its seq and carry a valid
 * signature of a trusted key. Stops each chain at its first problem.
 */
export async function verifyAuditLog(db: SqlExecutor, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const pageSize = options.pageSize ?? 20_000;
  const keys = await keysFor(db, options.trustedKeys);
  const tenants = await tenantsOf(db, options.tenantId);
  // Two chains at a time: one is hashed while the other's page is on its way.
  const chains: ChainReport[] = new Array(tenants.length);
  let next = 0;
  const worker = async () => {
    while (next < tenants.length) {
      const i = next++;
      chains[i] = await verifyChain(db, tenants[i]!, options, keys, pageSize);
    }
  };
  await Promise.all([worker(), worker()]);
  return {
    intact: chains.every((c) => c.problem === undefined),
    signaturesTrusted: options.trustedKeys !== undefined,
    entries: chains.reduce((n, c) => n + c.entries, 0),
    millis: Math.round(performance.now() - started),
    chains,
  };
}

async function keysFor(db: SqlExecutor, trusted: KeyObject[] | undefined): Promise<Map<string, KeyObject>> {
  const { rows } = await db.query<{ key_id: string; public_key: string }>('SELECT key_id, public_key FROM audit_signing_keys');
  const keys = new Map<string, KeyObject>();
  if (trusted !== undefined) {
    for (const key of trusted) keys.set(keyIdOf(key), key);
    return keys;
  }
  for (const r of rows) {
    try {
      keys.set(r.key_id, publicKeyFromPem(r.public_key));
    } catch {
      // A key row that is not a key: its checkpoints fail as unsigned by a known key.
    }
  }
  return keys;
}

async function tenantsOf(db: SqlExecutor, tenantId: string | undefined): Promise<string[]> {
  if (tenantId !== undefined) return [tenantId];
  const { rows } = await db.query<{ tenant_id: string }>(
    `SELECT tenant_id FROM audit_heads UNION SELECT DISTINCT tenant_id FROM audit_checkpoints UNION SELECT DISTINCT tenant_id FROM audit_log ORDER BY 1`,
  );
  return rows.map((r) => r.tenant_id);
}

async function verifyChain(db: SqlExecutor, tenantId: string, options: VerifyOptions, keys: Map<string, KeyObject>, pageSize: number): Promise<ChainReport> {
  const { rows: heads } = await db.query<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_heads WHERE tenant_id = $1', [tenantId]);
  const head = heads[0] ? { seq: Number(heads[0].seq), hash: heads[0].hash } : { seq: 0, hash: GENESIS_HASH };
  const report: ChainReport = { tenantId, entries: 0, headSeq: head.seq, checkpoints: 0 };

  // Where to start: the first entry, or the first at or after `from` (anchored on the entry before it).
  // A pruned chain starts after its latest prune, anchored on the pruned entry's hash, which a
  // signed checkpoint must cover.
  const checkpoints = await checkpointsOf(db, tenantId);
  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  const { rows: prunes } = await db.query<{ upto_seq: number | string; upto_hash: string }>('SELECT upto_seq, upto_hash FROM audit_prunes WHERE tenant_id = $1 ORDER BY upto_seq DESC LIMIT 1', [tenantId]);
  if (prunes[0]) {
    const upto = Number(prunes[0].upto_seq);
    const anchor = checkpoints.get(upto);
    if (!anchor || anchor.hash !== prunes[0].upto_hash) return fail(report, undefined, upto, `the chain was pruned up to ${upto}, but no signed checkpoint covers that entry`);
    const key = keys.get(anchor.key_id);
    if (!key || !verifySignature(key, checkpointMessage({ tenantId, seq: upto, hash: anchor.hash, at: Number(anchor.at) }), anchor.signature)) {
      return fail(report, undefined, upto, `the checkpoint that anchors the prune up to ${upto} is not signed by a trusted key`);
    }
    prevSeq = upto;
    prevHash = prunes[0].upto_hash;
    report.prunedUpTo = upto;
  }
  if (options.from !== undefined) {
    const { rows } = await db.query<{ seq: number | string }>('SELECT min(seq) AS seq FROM audit_log WHERE tenant_id = $1 AND at >= $2', [tenantId, options.from]);
    const first = rows[0]?.seq;
    if (first === null || first === undefined) return report;
    if (Number(first) > 1) {
      const { rows: before } = await db.query<{ seq: number | string; hash: string }>(
        'SELECT seq, hash FROM audit_log WHERE tenant_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT 1',
        [tenantId, Number(first)],
      );
      if (before[0] && Number(before[0].seq) > prevSeq) {
        prevSeq = Number(before[0].seq);
        prevHash = before[0].hash;
      }
    }
  }
  const hashes = new Map<number, string>();
  const page = (after: number) => {
    // By seq alone: times need not rise with seq (entries of the mesh's own carry their event's time, instances' clocks differ).
    const rows = db.query<AuditRow>('SELECT * FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [tenantId, after, pageSize]);
    // Read ahead while this page is hashed; a chain that fails early leaves the next page unread.
    rows.catch(() => {});
    return rows;
  };
  let next = page(prevSeq);
  let ended = false;
  for (;;) {
    const { rows } = await next;
    if (rows.length === pageSize) next = page(Number(rows.at(-1)!.seq));
    for (const row of rows) {
      const entry = entryFromRow(row);
      // A range ends at the first entry at or after `to`.
      if (options.to !== undefined && entry.at >= options.to) {
        ended = true;
        break;
      }
      report.firstSeq ??= entry.seq;
      if (entry.seq !== prevSeq + 1) return fail(report, entry.id, entry.seq, `entries ${prevSeq + 1} to ${entry.seq - 1} are missing`);
      if (entry.prevHash !== prevHash) return fail(report, entry.id, entry.seq, 'does not link to the entry before it (prev_hash differs)');
      // The canonical form names its fields, so the entry's own hash and prevHash are not in what it hashes.
      if (entryHash(prevHash, entry) !== entry.hash) return fail(report, entry.id, entry.seq, 'was altered (its content does not hash to its hash)');
      if (checkpoints.has(entry.seq)) hashes.set(entry.seq, entry.hash);
      prevSeq = entry.seq;
      prevHash = entry.hash;
      report.entries++;
      report.lastSeq = entry.seq;
    }
    if (ended || rows.length < pageSize) break;
  }
  // A chain read to its end must reach its head: entries removed from the end leave the head pointing past them.
  if (options.to === undefined && head.seq > prevSeq) {
    return fail(report, undefined, prevSeq + 1, `entries ${prevSeq + 1} to ${head.seq} are missing (the chain's head is at ${head.seq})`);
  }
  if (options.to === undefined && head.seq === prevSeq && head.seq > 0 && head.hash !== prevHash) {
    return fail(report, undefined, head.seq, "the chain's head does not match its last entry");
  }
  if (options.to === undefined && head.seq < prevSeq) {
    return fail(report, undefined, head.seq, `the chain's head says ${head.seq}, behind its last entry ${prevSeq}: the head was moved back or removed`);
  }
  const lastCheckedSeq = prevSeq;
  const firstCheckedSeq = report.firstSeq ?? lastCheckedSeq + 1;
  for (const [seq, checkpoint] of checkpoints) {
    if (seq < firstCheckedSeq) continue;
    if (seq > lastCheckedSeq) {
      if (options.to !== undefined) continue;
      return fail(report, undefined, seq, `a checkpoint signed the chain at ${seq}, but the chain ends at ${lastCheckedSeq}: entries were removed`);
    }
    if (hashes.get(seq) !== checkpoint.hash) return fail(report, undefined, seq, `the entry at ${seq} differs from the checkpoint signed at ${new Date(Number(checkpoint.at)).toISOString()}`);
    const key = keys.get(checkpoint.key_id);
    if (!key) return fail(report, undefined, seq, `the checkpoint at ${seq} was signed by key ${checkpoint.key_id}, which is not trusted`);
    const message = checkpointMessage({ tenantId, seq, hash: checkpoint.hash, at: Number(checkpoint.at) });
    if (!verifySignature(key, message, checkpoint.signature)) return fail(report, undefined, seq, `the checkpoint at ${seq} has a bad signature`);
    report.checkpoints++;
    report.lastCheckpointSeq = seq;
  }
  return report;
}

async function checkpointsOf(db: SqlExecutor, tenantId: string): Promise<Map<number, CheckpointRow>> {
  const { rows } = await db.query<CheckpointRow>('SELECT seq, hash, at, key_id, signature FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq', [tenantId]);
  return new Map(rows.map((r) => [Number(r.seq), r]));
}

function fail(report: ChainReport, entryId: string | undefined, seq: number, reason: string): ChainReport {
  return { ...report, problem: { ...(entryId !== undefined && { entryId }), seq, reason } };
}

export type { ChainReport, VerifyReport };
