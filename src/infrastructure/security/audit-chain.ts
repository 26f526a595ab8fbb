import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AuditEntry } from '../../domain/index.js';

// RFC 8785 (JCS) by the RFC's author; a CommonJS module whose types declare an ESM default.
const canonicalize = createRequire(import.meta.url)('canonicalize') as (value: unknown) => string | undefined;

/** The hash before a chain's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** Domain separation: an audit hash can never be mistaken for any other SHA-256 of the same bytes. */
const ENTRY_DOMAIN = 'agentmesh/audit-entry/v1\n';
const CHECKPOINT_DOMAIN = 'agentmesh/audit-checkpoint/v1\n';

/** The fields an entry's hash covers, in RFC 8785 canonical JSON (absent fields are left out, not null). */
export function canonicalEntry(entry: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  const body = {
    id: entry.id,
    tenantId: entry.tenantId,
    seq: entry.seq,
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    resourceType: entry.resourceType,
    resourceId: entry.resourceId,
    status: entry.status,
    sourceIp: entry.sourceIp,
    userAgent: entry.userAgent,
    traceId: entry.traceId,
    details: entry.details,
  };
  return canonicalize(body)!;
}

/** SHA-256 (hex) over the domain tag, the previous entry's hash and this entry's canonical form. */
export function entryHash(prevHash: string, entry: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  return createHash('sha256').update(ENTRY_DOMAIN).update(prevHash).update('\n').update(canonicalEntry(entry)).digest('hex');
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
