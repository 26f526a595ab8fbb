import type { TenantKeyRecord, TenantKeyRepository } from '../../application/ports.js';
import type { SqlExecutor } from './sql-client.js';
import { isUniqueViolation } from './sql-client.js';

interface TenantKeyRow {
  tenant_id: string;
  version: number;
  master_key_id: string;
  wrapped_key: string | null;
  created_at: string | number;
  destroyed_at: string | number | null;
}

const fromRow = (r: TenantKeyRow): TenantKeyRecord => ({
  tenantId: r.tenant_id,
  version: r.version,
  masterKeyId: r.master_key_id,
  ...(r.wrapped_key !== null && { wrappedKey: r.wrapped_key }),
  createdAt: Number(r.created_at),
  ...(r.destroyed_at !== null && { destroyedAt: Number(r.destroyed_at) }),
});

export class SqlTenantKeyRepository implements TenantKeyRepository {
  constructor(private readonly db: SqlExecutor) {}

  async current(tenantId: string): Promise<TenantKeyRecord | undefined> {
    const { rows } = await this.db.query<TenantKeyRow>('SELECT * FROM tenant_keys WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1', [tenantId]);
    const row = rows[0];
    return row !== undefined && row.wrapped_key !== null ? fromRow(row) : undefined;
  }

  async get(tenantId: string, version: number): Promise<TenantKeyRecord | undefined> {
    const { rows } = await this.db.query<TenantKeyRow>('SELECT * FROM tenant_keys WHERE tenant_id = $1 AND version = $2', [tenantId, version]);
    return rows[0] && fromRow(rows[0]);
  }

  async latestVersion(tenantId: string): Promise<number> {
    const { rows } = await this.db.query<{ version: number | null }>('SELECT max(version) AS version FROM tenant_keys WHERE tenant_id = $1', [tenantId]);
    return rows[0]?.version ?? 0;
  }

  async create(r: TenantKeyRecord): Promise<boolean> {
    try {
      await this.db.query('INSERT INTO tenant_keys (tenant_id, version, master_key_id, wrapped_key, created_at) VALUES ($1, $2, $3, $4, $5)', [
        r.tenantId,
        r.version,
        r.masterKeyId,
        r.wrappedKey,
        r.createdAt,
      ]);
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async destroyAll(tenantId: string, now: number): Promise<number> {
    const { rows } = await this.db.query<{ version: number }>(
      'UPDATE tenant_keys SET wrapped_key = NULL, destroyed_at = $2 WHERE tenant_id = $1 AND destroyed_at IS NULL RETURNING version',
      [tenantId, now],
    );
    return rows.length;
  }

  async wrappedByOtherThan(masterKeyId: string, limit: number): Promise<TenantKeyRecord[]> {
    const { rows } = await this.db.query<TenantKeyRow>(
      'SELECT * FROM tenant_keys WHERE destroyed_at IS NULL AND master_key_id <> $1 ORDER BY tenant_id, version LIMIT $2',
      [masterKeyId, limit],
    );
    return rows.map(fromRow);
  }

  async rewrap(tenantId: string, version: number, fromMasterKeyId: string, toMasterKeyId: string, wrappedKey: string): Promise<boolean> {
    const { rows } = await this.db.query(
      'UPDATE tenant_keys SET master_key_id = $4, wrapped_key = $5 WHERE tenant_id = $1 AND version = $2 AND master_key_id = $3 AND destroyed_at IS NULL RETURNING version',
      [tenantId, version, fromMasterKeyId, toMasterKeyId, wrappedKey],
    );
    return rows.length === 1;
  }
}
