import type { AuditAction, AuditActor, AuditEntry, AuditStatus } from '../../domain/index.js';
import { canonicalJson } from '../../application/canonical-json.js';

export interface AuditRow {
  tenant_id: string;
  seq: number | string;
  id: string;
  at: number | string;
  actor_type: string;
  actor_key_id: string | null;
  actor_role: string | null;
  actor_agent_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  status: string;
  source_ip: string | null;
  user_agent: string | null;
  trace_id: string | null;
  /** Absent when a query reads the details as text instead. */
  details?: Record<string, unknown> | null;
  subject_id: string | null;
  personal: string | null;
  prev_hash: string;
  hash: string;
}

/** The details' canonical form (RFC 8785): what an entry's hash covers of them, and the text the log stores. */
export const canonicalDetails = (details: Record<string, unknown>): string => canonicalJson(details)!;

/** A row as written: the details as their canonical text, the very text the entry's hash covers. */
export type StoredAuditRow = Omit<AuditRow, 'details'> & { details: string | null };

export function rowOf(e: AuditEntry): StoredAuditRow {
  return {
    tenant_id: e.tenantId,
    seq: e.seq,
    id: e.id,
    at: e.at,
    actor_type: e.actor.type,
    actor_key_id: e.actor.keyId ?? null,
    actor_role: e.actor.role ?? null,
    actor_agent_id: e.actor.agentId ?? null,
    action: e.action,
    resource_type: e.resourceType,
    resource_id: e.resourceId ?? null,
    status: e.status,
    source_ip: e.sourceIp ?? null,
    user_agent: e.userAgent ?? null,
    trace_id: e.traceId ?? null,
    details: e.details === undefined ? null : canonicalDetails(e.details),
    subject_id: e.subjectId ?? null,
    personal: e.personal ?? null,
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

/** The entry a row holds, with absent fields left out (as when it was hashed). */
export function entryFromRow(r: AuditRow): AuditEntry {
  const actor: AuditActor = {
    type: r.actor_type as AuditActor['type'],
    ...(r.actor_key_id !== null && { keyId: r.actor_key_id }),
    ...(r.actor_role !== null && { role: r.actor_role }),
    ...(r.actor_agent_id !== null && { agentId: r.actor_agent_id }),
  };
  return {
    id: r.id,
    tenantId: r.tenant_id,
    seq: Number(r.seq),
    at: Number(r.at),
    actor,
    action: r.action as AuditAction,
    resourceType: r.resource_type,
    ...(r.resource_id !== null && { resourceId: r.resource_id }),
    status: r.status as AuditStatus,
    ...(r.source_ip !== null && { sourceIp: r.source_ip }),
    ...(r.user_agent !== null && { userAgent: r.user_agent }),
    ...(r.trace_id !== null && { traceId: r.trace_id }),
    ...(r.details !== null && r.details !== undefined && { details: r.details }),
    ...(r.subject_id !== null && r.subject_id !== undefined && { subjectId: r.subject_id }),
    ...(r.personal !== null && r.personal !== undefined && { personal: r.personal }),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
