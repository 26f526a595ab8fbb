import type { SqlExecutor } from '../persistence/sql-client.js';

/** A tenant's retention in days; undefined: its log is kept forever. */
export async function retentionOf(db: SqlExecutor, tenantId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ days: number }>('SELECT days FROM audit_retention WHERE tenant_id = $1', [tenantId]);
  return rows[0]?.days;
}

export async function setRetention(db: SqlExecutor, tenantId: string, days: number | undefined, now: number): Promise<void> {
  if (days === undefined) await db.query('DELETE FROM audit_retention WHERE tenant_id = $1', [tenantId]);
  else {
    await db.query(
      'INSERT INTO audit_retention (tenant_id, days, updated_at) VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET days = excluded.days, updated_at = excluded.updated_at',
      [tenantId, days, now],
    );
  }
}

export async function tenantsWithRetention(db: SqlExecutor): Promise<string[]> {
  const { rows } = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM audit_retention ORDER BY tenant_id');
  return rows.map((r) => r.tenant_id);
}

/** Prunes a tenant's entries past its retention (audit_prune() in the database); what it removed, if anything. */
export async function pruneTenant(db: SqlExecutor, tenantId: string): Promise<{ entries: number; uptoSeq: number } | undefined> {
  const { rows } = await db.query<{ entries: number | string }>('SELECT audit_prune($1) AS entries', [tenantId]);
  const entries = Number(rows[0]?.entries ?? 0);
  if (entries === 0) return undefined;
  const { rows: prune } = await db.query<{ upto_seq: number | string }>('SELECT upto_seq FROM audit_prunes WHERE tenant_id = $1 ORDER BY upto_seq DESC LIMIT 1', [tenantId]);
  return { entries, uptoSeq: Number(prune[0]!.upto_seq) };
}
