import type { ApiKeyRecord, ApiKeyRepository, Role } from '../../application/ports.js';
import type { SqlExecutor } from './sql-client.js';

interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  role: Role;
  platform: boolean;
  secret_hash: string;
  created_at: string | number;
  revoked_at: string | number | null;
  agent_id: string | null;
  rate_limit_per_minute: number | null;
}

const fromRow = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  role: r.role,
  platform: r.platform,
  secretHash: r.secret_hash,
  createdAt: Number(r.created_at),
  ...(r.revoked_at !== null && { revokedAt: Number(r.revoked_at) }),
  ...(r.agent_id !== null && { agentId: r.agent_id }),
  ...(r.rate_limit_per_minute !== null && { rateLimitPerMinute: r.rate_limit_per_minute }),
});

export class SqlApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: SqlExecutor) {}

  async create(k: ApiKeyRecord): Promise<void> {
    await this.db.query(
      'INSERT INTO api_keys (id, tenant_id, name, role, platform, secret_hash, created_at, agent_id, rate_limit_per_minute) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
      [k.id, k.tenantId, k.name, k.role, k.platform, k.secretHash, k.createdAt, k.agentId ?? null, k.rateLimitPerMinute ?? null],
    );
  }

  async findBySecretHash(secretHash: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE secret_hash = $1', [secretHash]);
    return rows[0] && fromRow(rows[0]);
  }

  async list(tenantId: string): Promise<ApiKeyRecord[]> {
    const { rows } = await this.db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
    return rows.map(fromRow);
  }

  async revoke(tenantId: string, id: string, now: number): Promise<boolean> {
    const { rows } = await this.db.query('UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING id', [
      tenantId,
      id,
      now,
    ]);
    return rows.length > 0;
  }

  async replaceSecret(tenantId: string, id: string, secretHash: string): Promise<boolean> {
    const { rows } = await this.db.query('UPDATE api_keys SET secret_hash = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING id', [tenantId, id, secretHash]);
    return rows.length > 0;
  }

  async setRateLimit(tenantId: string, id: string, perMinute: number | undefined): Promise<boolean> {
    const { rows } = await this.db.query('UPDATE api_keys SET rate_limit_per_minute = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING id', [tenantId, id, perMinute ?? null]);
    return rows.length > 0;
  }
}
