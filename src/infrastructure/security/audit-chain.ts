import { canonicalJson as canonicalize } from '../../application/canonical-json.js';
import { sha256Hex } from '../../application/sha256.js';
import type { AuditEntry } from '../../domain/index.js';
import { rowOf, type AuditRow } from './audit-rows.js';
import { PLAIN } from '../../domain/plain.js';

/** The hash before a chain's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** Domain separation: an audit hash can never be mistaken for any other SHA-256 of the same bytes. */
const ENTRY_DOMAIN = 'agentmesh/audit-entry/v1\n';
const CHECKPOINT_DOMAIN = 'agentmesh/audit-checkpoint/v1\n';

/** A string with nothing JSON escapes (quote, backslash, control characters, surrogates) is its own JSON form between quotes. */
const NEEDS_NO_ESCAPE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/u;
export const jsonText = (value: string) => (NEEDS_NO_ESCAPE.test(value) ? `"${value}"` : JSON.stringify(value));

/** The fields of a row an entry's hash covers (all but the details, passed as their text, and the hashes). */
export type CanonicalRow = Omit<AuditRow, 'details' | 'prev_hash' | 'hash'>;

/**
 * The fields an entry's hash covers, in RFC 8785 canonical JSON, written from its row (absent
 * fields, null in the row, are left out: an entry without sealed personal data hashes as before
 * those fields existed). The fields are written directly in their canonical (sorted) order, which
 * is what the library would produce (`canonicalEntryReference` is the library's form, and the
 * tests hold the two equal); the free-form details come as their canonical text (`canonicalDetails`).
 * Writing and verifying both hash rows, so there is one canonical form to keep.
 */
export function canonicalRow(r: CanonicalRow, detailsText: string | null): string {
  // Keys in UTF-16 code unit order: action, actor (agentId, keyId, role, type), at, details, id, personal, resourceId, resourceType, seq, sourceIp, status, subjectId, tenantId, traceId, userAgent.
  let out = `{"action":${jsonText(r.action)},"actor":{`;
  if (r.actor_agent_id !== null) out += `"agentId":${jsonText(r.actor_agent_id)},`;
  if (r.actor_key_id !== null) out += `"keyId":${jsonText(r.actor_key_id)},`;
  if (r.actor_role !== null) out += `"role":${jsonText(r.actor_role)},`;
  out += `"type":${jsonText(r.actor_type)}},"at":${JSON.stringify(Number(r.at))}`;
  if (detailsText !== null) out += `,"details":${detailsText}`;
  out += `,"id":${jsonText(r.id)}`;
  if (r.personal != null) out += `,"personal":${jsonText(r.personal)}`;
  if (r.resource_id !== null) out += `,"resourceId":${jsonText(r.resource_id)}`;
  out += `,"resourceType":${jsonText(r.resource_type)},"seq":${JSON.stringify(Number(r.seq))}`;
  if (r.source_ip !== null) out += `,"sourceIp":${jsonText(r.source_ip)}`;
  out += `,"status":${jsonText(r.status)}`;
  if (r.subject_id != null) out += `,"subjectId":${jsonText(r.subject_id)}`;
  out += `,"tenantId":${jsonText(r.tenant_id)}`;
  if (r.trace_id !== null) out += `,"traceId":${jsonText(r.trace_id)}`;
  if (r.user_agent !== null) out += `,"userAgent":${jsonText(r.user_agent)}`;
  return `${out}}`;
}

/** An entry's canonical form: that of its row. */
export function canonicalEntry(entry: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  const row = rowOf({ ...PLAIN, ...entry, prevHash: '', hash: '' });
  return canonicalRow(row, row.details);
}

/** The same, by the library alone over the whole entry: the reference the direct form must equal. */
export function canonicalEntryReference(entry: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  const { id, tenantId, seq, at, actor, action, resourceType, resourceId, status, sourceIp, userAgent, traceId, details, subjectId, personal } = entry;
  return canonicalize({ id, tenantId, seq, at, actor, action, resourceType, resourceId, status, sourceIp, userAgent, traceId, details, subjectId, personal })!;
}

/** SHA-256 (hex) over the domain tag, the previous entry's hash and the entry's canonical form, from its row. */
export function rowHash(row: CanonicalRow & { prev_hash: string }, detailsText: string | null): string {
  return sha256Hex(`${ENTRY_DOMAIN}${row.prev_hash}\n${canonicalRow(row, detailsText)}`);
}

/** The same, from the entry. */
export function entryHash(prevHash: string, entry: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  const row = rowOf({ ...PLAIN, ...entry, prevHash, hash: '' });
  return rowHash(row, row.details);
}

export interface CheckpointBody {
  tenantId: string;
  seq: number;
  hash: string;
  at: number;
}

/** The bytes a checkpoint's signature covers. */
export function checkpointMessage(body: CheckpointBody): Buffer {
  return Buffer.from(CHECKPOINT_DOMAIN + canonicalize({ tenantId: body.tenantId, seq: body.seq, hash: body.hash, at: body.at })!, 'utf8');
}
