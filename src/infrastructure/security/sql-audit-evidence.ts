import { KEY_AND_ADMIN_ACTIONS, KEY_AND_ADMIN_EVENTS_LISTED } from '../../application/compliance-report.js';
import type { AuditEvidence } from '../../application/ports.js';
import type { SqlExecutor } from '../persistence/sql-client.js';

const n = (v: unknown) => Number(v);

/** Counts a tenant's entries of [from, to) the ways the compliance reports need; every list is bounded. */
export async function auditEvidence(db: SqlExecutor, tenantId: string, from: number, to: number): Promise<AuditEvidence> {
  const range = [tenantId, from, to];
  const period = 'tenant_id = $1 AND at >= $2 AND at < $3';
  const [counts, keys, denied, security, processing, events, head, checkpoint] = await Promise.all([
    db.query<{ action: string; status: string; count: string }>(`SELECT action, status, count(*) AS count FROM audit_log WHERE ${period} GROUP BY action, status ORDER BY action, status`, range),
    db.query<{ count: string }>(`SELECT count(DISTINCT actor_key_id) AS count FROM audit_log WHERE ${period} AND actor_key_id IS NOT NULL`, range),
    db.query<{ key_id: string | null; role: string | null; count: string; first: string; last: string }>(
      `SELECT actor_key_id AS key_id, actor_role AS role, count(*) AS count, min(at) AS first, max(at) AS last FROM audit_log
       WHERE ${period} AND status = 'denied' GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 20`,
      range,
    ),
    db.query<{ day: string; action: string; count: string }>(
      `SELECT to_char(to_timestamp(at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, action, count(*) AS count FROM audit_log
       WHERE ${period} AND action IN ('UNAUTHORIZED_ACCESS', 'AUTH_FAILURE') GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 800`,
      range,
    ),
    db.query<{ capability: string; submitted: string }>(
      `SELECT coalesce(details->>'capability', '(unknown)') AS capability, count(*) AS submitted FROM audit_log
       WHERE ${period} AND action = 'TASK_SUBMITTED' AND status = 'success' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50`,
      range,
    ),
    db.query<{ at: string; action: string; key_id: string | null; resource_id: string | null; status: string }>(
      `SELECT at, action, actor_key_id AS key_id, resource_id, status FROM audit_log WHERE ${period} AND action = ANY($4::text[]) ORDER BY seq DESC LIMIT ${KEY_AND_ADMIN_EVENTS_LISTED}`,
      [...range, KEY_AND_ADMIN_ACTIONS],
    ),
    db.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_heads WHERE tenant_id = $1', [tenantId]),
    db.query<{ seq: string; hash: string; at: string; key_id: string; signature: string }>(
      'SELECT seq, hash, at, key_id, signature FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1',
      [tenantId],
    ),
  ]);
  const h = head.rows[0];
  const c = checkpoint.rows[0];
  return {
    counts: counts.rows.map((r) => ({ action: r.action, status: r.status, count: n(r.count) })),
    distinctKeys: n(keys.rows[0]?.count ?? 0),
    deniedByKey: denied.rows.map((r) => ({ keyId: r.key_id, role: r.role, count: n(r.count), first: n(r.first), last: n(r.last) })),
    securityByDay: security.rows.map((r) => ({ day: r.day, action: r.action, count: n(r.count) })),
    processing: processing.rows.map((r) => ({ capability: r.capability, submitted: n(r.submitted) })),
    keyAndAdminEvents: events.rows.map((r) => ({ at: n(r.at), action: r.action, keyId: r.key_id, resourceId: r.resource_id, status: r.status })),
    head: h ? { seq: n(h.seq), hash: h.hash } : undefined,
    checkpoint: c ? { seq: n(c.seq), hash: c.hash, at: n(c.at), keyId: c.key_id, signature: c.signature } : undefined,
  };
}
