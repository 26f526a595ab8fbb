import { canonicalJson as canonicalize } from '../../application/canonical-json.js';
import { sha256Hex } from '../../application/sha256.js';
import type { AuditEntry } from '../../domain/index.js';

/** The hash before a chain's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** Domain separation: an audit hash can never be mistaken for any other SHA-256 of the same bytes. */
const ENTRY_DOMAIN = 'agentmesh/audit-entry/v1\n';
const CHECKPOINT_DOMAIN = 'agentmesh/audit-checkpoint/v1\n';

/** A string with nothing JSON escapes (quote, backslash, control characters, surrogates) is its own JSON form between quotes. */
const NEEDS_NO_ESCAPE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/u;
export const jsonText = (value: string) => (NEEDS_NO_ESCAPE.test(value) ? `"${value}"` : JSON.stringify(value));

/** The actor's canonical form: its keys are known (agentId, keyId, role, type, in that order); anything else goes through the library. */
function canonicalActor(actor: AuditEntry['actor']): string {
  const { agentId, keyId, role, type, ...rest } = actor;
  if (Object.keys(rest).length > 0) return canonicalize(actor)!;
  let out = '{';
  if (agentId !== undefined) out += `"agentId":${jsonText(agentId)},`;
  if (keyId !== undefined) out += `"keyId":${jsonText(keyId)},`;
  if (role !== undefined) out += `"role":${jsonText(role)},`;
  return `${out}"type":${jsonText(type)}}`;
}

/**
 * The fields an entry's hash covers, in RFC 8785 canonical JSON (absent fields are left out, not
 * null: an entry without sealed personal data hashes as before those fields existed). The entry's own fields (and the actor's) are written in their canonical (sorted) order
 * directly, which is what the library would produce; the free-form details go through the library.
 */
export function canonicalEntry(entry: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  // Keys in UTF-16 code unit order: action, actor, at, details, id, personal, resourceId, resourceType, seq, sourceIp, status, subjectId, tenantId, traceId, userAgent.
  let out = `{"action":${jsonText(entry.action)},"actor":${canonicalActor(entry.actor)},"at":${JSON.stringify(entry.at)}`;
  if (entry.details !== undefined) out += `,"details":${canonicalize(entry.details)!}`;
  out += `,"id":${jsonText(entry.id)}`;
  if (entry.personal !== undefined) out += `,"personal":${jsonText(entry.personal)}`;
  if (entry.resourceId !== undefined) out += `,"resourceId":${jsonText(entry.resourceId)}`;
  out += `,"resourceType":${jsonText(entry.resourceType)},"seq":${JSON.stringify(entry.seq)}`;
  if (entry.sourceIp !== undefined) out += `,"sourceIp":${jsonText(entry.sourceIp)}`;
  out += `,"status":${jsonText(entry.status)}`;
  if (entry.subjectId !== undefined) out += `,"subjectId":${jsonText(entry.subjectId)}`;
  out += `,"tenantId":${jsonText(entry.tenantId)}`;
  if (entry.traceId !== undefined) out += `,"traceId":${jsonText(entry.traceId)}`;
  if (entry.userAgent !== undefined) out += `,"userAgent":${jsonText(entry.userAgent)}`;
  return `${out}}`;
}

/** The same, by the library alone over the whole entry: the reference the direct form must equal. */
export function canonicalEntryReference(entry: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  const { id, tenantId, seq, at, actor, action, resourceType, resourceId, status, sourceIp, userAgent, traceId, details, subjectId, personal } = entry;
  return canonicalize({ id, tenantId, seq, at, actor, action, resourceType, resourceId, status, sourceIp, userAgent, traceId, details, subjectId, personal })!;
}

/** SHA-256 (hex) over the domain tag, the previous entry's hash and this entry's canonical form. */
export function entryHash(prevHash: string, entry: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  return sha256Hex(`${ENTRY_DOMAIN}${prevHash}\n${canonicalEntry(entry)}`);
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
