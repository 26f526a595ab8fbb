import type { ChainProblem } from '../../application/ports.js';
import type { SqlExecutor } from '../persistence/sql-client.js';
import { entryHash } from './audit-chain.js';
import { entryFromRow, type AuditRow } from './audit-rows.js';

/** A stretch of one tenant's chain, by seq (both ends inclusive), checked on its own. */
export interface SegmentRequest {
  tenantId: string;
  fromSeq: number;
  toSeq: number;
  /** Seqs whose hashes the checkpoints need. */
  checkpointSeqs: number[];
  /** Rows read per query. */
  pageSize: number;
  /** Epoch ms: the range ends at the first entry at or after it (times need not rise with seq). */
  endAt?: number;
}

/**
 * What a segment holds: where it starts and ends, so that the caller links it to the segments
 * around it, and the first problem inside it. `entries` counts the entries found sound before
 * the problem.
 */
export interface SegmentReport {
  entries: number;
  first?: { seq: number; prevHash: string; id: string };
  last?: { seq: number; hash: string };
  checkpointHashes: Array<[number, string]>;
  problem?: ChainProblem;
  /** It met the first entry at or after `endAt`: the range ends before it. */
  ended?: boolean;
}

/**
 * Checks each entry of the segment: it follows the one before it (no gap in seq), links to its
 * hash, and hashes to what it says. The first entry's own link is the caller's to check, against
 * the segment before. Entries do not depend on each other beyond the link, so segments can be
 * checked in any order, at once.
 */
export async function verifySegment(db: SqlExecutor, request: SegmentRequest): Promise<SegmentReport> {
  const { tenantId, fromSeq, toSeq, pageSize } = request;
  const wanted = new Set(request.checkpointSeqs);
  const report: SegmentReport = { entries: 0, checkpointHashes: [] };
  const page = (from: number) => {
    const rows = db.query<AuditRow>('SELECT * FROM audit_log WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4', [tenantId, from, toSeq, pageSize]);
    // Read ahead while this page is hashed; a segment that fails early leaves the next page unread.
    rows.catch(() => {});
    return rows;
  };
  let next = page(fromSeq);
  let last: { seq: number; hash: string } | undefined;
  for (;;) {
    const { rows } = await next;
    const lastRead = rows.length === pageSize ? Number(rows.at(-1)!.seq) : toSeq;
    if (lastRead < toSeq) next = page(lastRead + 1);
    for (const row of rows) {
      const entry = entryFromRow(row);
      if (request.endAt !== undefined && entry.at >= request.endAt) return { ...report, ...(last && { last }), ended: true };
      if (last === undefined) report.first = { seq: entry.seq, prevHash: entry.prevHash, id: entry.id };
      else if (entry.seq !== last.seq + 1) return { ...report, last, problem: { entryId: entry.id, seq: entry.seq, reason: `entries ${last.seq + 1} to ${entry.seq - 1} are missing` } };
      else if (entry.prevHash !== last.hash) return { ...report, last, problem: { entryId: entry.id, seq: entry.seq, reason: 'does not link to the entry before it (prev_hash differs)' } };
      // The canonical form names its fields, so the entry's own hash and prevHash are not in what it hashes.
      if (entryHash(entry.prevHash, entry) !== entry.hash) return { ...report, ...(last && { last }), problem: { entryId: entry.id, seq: entry.seq, reason: 'was altered (its content does not hash to its hash)' } };
      if (wanted.has(entry.seq)) report.checkpointHashes.push([entry.seq, entry.hash]);
      last = { seq: entry.seq, hash: entry.hash };
      report.entries++;
    }
    if (lastRead >= toSeq) break;
  }
  return { ...report, ...(last && { last }) };
}
