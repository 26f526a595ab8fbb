import type { ChainProblem } from '../../application/ports.js';
import type { SqlExecutor } from '../persistence/sql-client.js';
import { rowHash } from './audit-chain.js';
import { canonicalDetails, type AuditRow } from './audit-rows.js';
import { PLAIN } from '../../domain/plain.js';

/** The details as stored text (not parsed): the log stores their canonical form, which the hash covers as it is. */
const SEGMENT_PAGE = `SELECT tenant_id, seq, id, at, actor_type, actor_key_id, actor_role, actor_agent_id, action, resource_type, resource_id, status,
  source_ip, user_agent, trace_id, details::text AS details_text, subject_id, personal, prev_hash, hash
FROM audit_log WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4`;

type SegmentRow = Omit<AuditRow, 'details'> & { details_text: string | null };

/**
 * The details' canonical text, for a row an earlier build wrote: those stored exactly
 * `JSON.stringify(details)`. Text in any other form is no such row, and gets no second reading:
 * the same details written another way (a number with more digits, a key twice, spaces) are an
 * alteration, not an old row.
 */
function legacyCanonical(text: string): string | undefined {
  let details: unknown;
  try {
    details = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof details !== 'object' || details === null || Array.isArray(details) || JSON.stringify(details) !== text) return undefined;
  return canonicalDetails(details as Record<string, unknown>);
}

/**
 * Whether the entry hashes to what it says. The log stores the details' canonical text, hashed as it
 * is read. Rows written by earlier builds hold `JSON.stringify(details)`: that text is put in
 * canonical form first, as those builds did when they hashed the entry. Such rows come in runs, so
 * after one, the next is tried that way first (`legacy.last`), which hashes each of them once.
 */
function hashHolds(row: SegmentRow, legacy: { last: boolean }): boolean {
  const text = row.details_text;
  if (text === null) return rowHash(row, null) === row.hash;
  if (legacy.last) {
    const canonical = legacyCanonical(text);
    if (canonical !== undefined && canonical !== text && rowHash(row, canonical) === row.hash) return true;
    legacy.last = false;
    return rowHash(row, text) === row.hash;
  }
  if (rowHash(row, text) === row.hash) return true;
  const canonical = legacyCanonical(text);
  legacy.last = canonical !== undefined && canonical !== text && rowHash(row, canonical) === row.hash;
  return legacy.last;
}

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
    const rows = db.query<SegmentRow>(SEGMENT_PAGE, [tenantId, from, toSeq, pageSize]);
    // Read ahead while this page is hashed; a segment that fails early leaves the next page unread.
    rows.catch(() => {});
    return rows;
  };
  let next = page(fromSeq);
  let last: { seq: number; hash: string } | undefined;
  const legacy = { last: false };
  for (;;) {
    const { rows } = await next;
    const lastRead = rows.length === pageSize ? Number(rows.at(-1)!.seq) : toSeq;
    if (lastRead < toSeq) next = page(lastRead + 1);
    for (const row of rows) {
      const seq = Number(row.seq);
      if (request.endAt !== undefined && Number(row.at) >= request.endAt) return { ...PLAIN, ...report, ...(last && { last }), ended: true };
      if (last === undefined) report.first = { seq, prevHash: row.prev_hash, id: row.id };
      else if (seq !== last.seq + 1) return { ...PLAIN, ...report, last, problem: { entryId: row.id, seq, reason: `entries ${last.seq + 1} to ${seq - 1} are missing` } };
      else if (row.prev_hash !== last.hash) return { ...PLAIN, ...report, last, problem: { entryId: row.id, seq, reason: 'does not link to the entry before it (prev_hash differs)' } };
      // The canonical form names its fields, so the entry's own hash and prevHash are not in what it hashes.
      if (!hashHolds(row, legacy)) return { ...PLAIN, ...report, ...(last && { last }), problem: { entryId: row.id, seq, reason: 'was altered (its content does not hash to its hash)' } };
      if (wanted.has(seq)) report.checkpointHashes.push([seq, row.hash]);
      last = { seq, hash: row.hash };
      report.entries++;
    }
    if (lastRead >= toSeq) break;
  }
  return { ...PLAIN, ...report, ...(last && { last }) };
}
