import type { KeyObject } from 'node:crypto';
import type { AuditVerifyRange, ChainReport, VerifyReport } from '../../application/ports.js';
import type { SqlExecutor } from '../persistence/sql-client.js';
import { checkpointMessage, GENESIS_HASH } from './audit-chain.js';
import { verifySegment, type SegmentReport, type SegmentRequest } from './audit-segment.js';
import { keyIdOf, publicKeyFromPem, verifySignature } from './audit-signing.js';
import { PLAIN } from '../../domain/plain.js';

export interface VerifyOptions extends AuditVerifyRange {
  /**
   * Keys trusted to sign checkpoints. Without them, signatures are checked against the keys the
   * database lists, which proves the checkpoints were not altered, not who made them.
   */
  trustedKeys?: KeyObject[];
  /** Rows read per query. */
  pageSize?: number;
  /** Entries per segment (each is checked on its own; their joints are checked here). */
  segmentEntries?: number;
}

/** Entries per segment. */
const SEGMENT_ENTRIES = 10_000;
const MAX_SEGMENTS = 1_000;
/** Segments read and checked at once: one is hashed while the next one's rows arrive. */
const SEGMENTS_AT_ONCE = 2;

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
  // Two chains at a time: one's segments are checked while the other's start is read.
  const chains: ChainReport[] = new Array(tenants.length);
  let next = 0;
  const lane = async () => {
    while (next < tenants.length) {
      const i = next++;
      chains[i] = await verifyChain(db, tenants[i]!, options, keys, pageSize);
    }
  };
  await Promise.all([lane(), lane()]);
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
    // A prune deletes what it covers: entries left at or below it mean the prune record is not genuine.
    const { rows: left } = await db.query<{ seq: number | string; id: string }>('SELECT seq, id FROM audit_log WHERE tenant_id = $1 AND seq <= $2 ORDER BY seq LIMIT 1', [tenantId, upto]);
    if (left[0]) return fail(report, left[0].id, Number(left[0].seq), `the chain is recorded as pruned up to ${upto}, but entries at or below it remain: the prune record is not genuine`);
    prevSeq = upto;
    prevHash = prunes[0].upto_hash;
    report.prunedUpTo = upto;
  } else {
    // Seqs start at 1: a row below that is no entry of the chain, and would be left unread.
    const { rows: below } = await db.query<{ seq: number | string; id: string }>('SELECT seq, id FROM audit_log WHERE tenant_id = $1 AND seq < 1 ORDER BY seq LIMIT 1', [tenantId]);
    if (below[0]) return fail(report, below[0].id, Number(below[0].seq), `an entry at seq ${Number(below[0].seq)}, before the chain's first: it was added outside the chain`);
  }
  if (options.from !== undefined) {
    const { rows } = await db.query<{ seq: number | string }>('SELECT min(seq) AS seq FROM audit_log WHERE tenant_id = $1 AND at >= $2', [tenantId, options.from]);
    const first = rows[0]?.seq;
    if (first === null || first === undefined) {
      // Nothing at or after `from`: the range is the chain's end, where entries removed from the end
      // show against its head and its checkpoints (checked below, from its last entry).
      const { rows: last } = await db.query<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1', [tenantId]);
      if (last[0] && Number(last[0].seq) > prevSeq) {
        prevSeq = Number(last[0].seq);
        prevHash = last[0].hash;
      }
    } else if (Number(first) > 1) {
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
  // To the chain's last entry, even past its head (a head moved back is reported below).
  const { rows: ends } = await db.query<{ seq: number | string | null }>('SELECT max(seq) AS seq FROM audit_log WHERE tenant_id = $1', [tenantId]);
  const endSeq = Number(ends[0]?.seq ?? 0);
  // A row far past the rest (a forged seq) must not make a segment of every empty stretch before it.
  const size = Math.max(options.segmentEntries ?? SEGMENT_ENTRIES, Math.ceil((endSeq - prevSeq) / MAX_SEGMENTS));
  const segments: SegmentRequest[] = [];
  for (let fromSeq = prevSeq + 1; fromSeq <= endSeq; fromSeq += size) {
    const toSeq = Math.min(fromSeq + size - 1, endSeq);
    const checkpointSeqs = [...checkpoints.keys()].filter((seq) => seq >= fromSeq && seq <= toSeq);
    segments.push({ tenantId, fromSeq, toSeq, checkpointSeqs, pageSize, ...(options.to !== undefined && { endAt: options.to }) });
  }
  // Segments are checked on their own, a few at once, and joined here in order: each must start
  // right after the one before ends and link to its last hash; the first problem in seq order is
  // the one reported.
  const results: Array<Promise<SegmentReport>> = [];
  const start = (i: number) => {
    if (i >= segments.length) return;
    results[i] = verifySegment(db, segments[i]!);
    results[i]!.catch(() => {});
  };
  for (let i = 0; i < SEGMENTS_AT_ONCE; i++) start(i);
  const hashes = new Map<number, string>();
  let readToEnd = true;
  for (let i = 0; i < segments.length; i++) {
    const segment = await results[i]!;
    start(i + SEGMENTS_AT_ONCE);
    if (segment.first) {
      report.firstSeq ??= segment.first.seq;
      if (segment.first.seq !== prevSeq + 1) return fail(report, segment.first.id, segment.first.seq, `entries ${prevSeq + 1} to ${segment.first.seq - 1} are missing`);
      if (segment.first.prevHash !== prevHash) return fail(report, segment.first.id, segment.first.seq, 'does not link to the entry before it (prev_hash differs)');
    }
    report.entries += segment.entries;
    for (const [seq, hash] of segment.checkpointHashes) hashes.set(seq, hash);
    if (segment.last) {
      prevSeq = segment.last.seq;
      prevHash = segment.last.hash;
      report.lastSeq = prevSeq;
    }
    if (segment.problem) return fail(report, segment.problem.entryId, segment.problem.seq, segment.problem.reason);
    if (segment.ended) {
      readToEnd = false;
      break;
    }
  }
  // A chain read to its end (no entry past `to`, or no `to`) must reach its head: entries removed
  // from the end leave the head pointing past them.
  if (readToEnd && head.seq > prevSeq) {
    return fail(report, undefined, prevSeq + 1, `entries ${prevSeq + 1} to ${head.seq} are missing (the chain's head is at ${head.seq})`);
  }
  if (readToEnd && head.seq === prevSeq && head.seq > 0 && head.hash !== prevHash) {
    return fail(report, undefined, head.seq, "the chain's head does not match its last entry");
  }
  if (readToEnd && head.seq < prevSeq) {
    return fail(report, undefined, head.seq, `the chain's head says ${head.seq}, behind its last entry ${prevSeq}: the head was moved back or removed`);
  }
  const lastCheckedSeq = prevSeq;
  const firstCheckedSeq = report.firstSeq ?? lastCheckedSeq + 1;
  for (const [seq, checkpoint] of checkpoints) {
    if (seq < firstCheckedSeq) continue;
    if (seq > lastCheckedSeq) {
      if (!readToEnd) continue;
      return fail(report, undefined, seq, `a checkpoint signed the chain at ${seq}, but the chain ends at ${lastCheckedSeq}: entries were removed`);
    }
    if (hashes.get(seq) !== checkpoint.hash) return fail(report, undefined, seq, `the entry at ${seq} differs from the checkpoint signed at ${new Date(Number(checkpoint.at)).toISOString()}`);
    const key = keys.get(checkpoint.key_id);
    if (!key) return fail(report, undefined, seq, `the checkpoint at ${seq} was signed by key ${checkpoint.key_id}, which is not trusted`);
    const message = checkpointMessage({ tenantId, seq, hash: checkpoint.hash, at: Number(checkpoint.at) });
    if (!verifySignature(key, message, checkpoint.signature)) return fail(report, undefined, seq, `the checkpoint at ${seq} has a bad signature`);
    report.checkpoints++;
    report.lastCheckpointSeq = seq;
    report.lastCheckpointHash = checkpoint.hash;
  }
  return report;
}

async function checkpointsOf(db: SqlExecutor, tenantId: string): Promise<Map<number, CheckpointRow>> {
  const { rows } = await db.query<CheckpointRow>('SELECT seq, hash, at, key_id, signature FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq', [tenantId]);
  return new Map(rows.map((r) => [Number(r.seq), r]));
}

function fail(report: ChainReport, entryId: string | undefined, seq: number, reason: string): ChainReport {
  return { ...PLAIN, ...report, problem: { ...PLAIN, ...(entryId !== undefined && { entryId }), seq, reason } };
}

export type { ChainReport, VerifyReport };
