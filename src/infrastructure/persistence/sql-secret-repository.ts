import { MAX_KEPT_SECRET_VERSIONS, type SecretMetadata, type SecretPolicy } from '../../domain/index.js';
import type { CurrentSecret, Page, PageRequest, SecretRepository, SecretVersionWrite } from '../../application/ports.js';
import { decodeCursor, encodeCursor } from './rows.js';
import type { SqlClient } from './sql-client.js';

const SECRET_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/u;

interface SecretRow {
  name: string;
  description: string | null;
  policy: SecretPolicy;
  current_version: number;
  created_at: string | number;
  updated_at: string | number;
  readable: boolean;
  versions: Array<{ version: number; created_at: string | number; created_by: string | null }> | null;
}

interface CurrentRow {
  policy: SecretPolicy;
  version: number;
  version_id: string;
  tenant_key_version: number;
  wrapped_data_key: string;
  ciphertext: string;
  master_key_id: string | null;
  wrapped_key: string | null;
  key_created_at: string | number | null;
  key_destroyed_at: string | number | null;
}

const fromRow = (r: SecretRow): SecretMetadata => ({
  name: r.name,
  ...(r.description !== null && { description: r.description }),
  policy: r.policy,
  currentVersion: r.current_version,
  versions: (r.versions ?? []).map((v) => ({ version: v.version, createdAt: Number(v.created_at), ...(v.created_by !== null && { createdBy: v.created_by }) })),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  readable: r.readable,
});

/** A secret with its kept versions (newest first) and whether its current value can still be opened. */
const METADATA = `
  SELECT s.name, s.description, s.policy, s.current_version, s.created_at, s.updated_at,
    EXISTS (SELECT 1 FROM secret_versions v JOIN tenant_keys k ON k.tenant_id = v.tenant_id AND k.version = v.tenant_key_version
            WHERE v.tenant_id = s.tenant_id AND v.name = s.name AND v.version = s.current_version AND k.destroyed_at IS NULL) AS readable,
    (SELECT json_agg(json_build_object('version', v.version, 'created_at', v.created_at, 'created_by', v.created_by) ORDER BY v.version DESC)
       FROM secret_versions v WHERE v.tenant_id = s.tenant_id AND v.name = s.name) AS versions
  FROM secrets s`;

const INSERT_VERSION = `
  INSERT INTO secret_versions (tenant_id, name, version, version_id, tenant_key_version, wrapped_data_key, ciphertext, created_at, created_by)
  SELECT $1, $2, s.current_version, $3, $4, $5, $6, $7, $8 FROM s`;

export class SqlSecretRepository implements SecretRepository {
  constructor(private readonly db: SqlClient) {}

  async upsert(w: SecretVersionWrite, policy: SecretPolicy, description: string | undefined): Promise<{ version: number; created: boolean }> {
    // The upsert locks the secret's row, so concurrent writers number their versions one after another.
    const { rows } = await this.db.query<{ version: number; created: boolean }>(
      `WITH s AS (
         INSERT INTO secrets (tenant_id, name, description, policy, current_version, created_at, updated_at)
         VALUES ($1, $2, $9, $10, 1, $7, $7)
         ON CONFLICT (tenant_id, name) DO UPDATE
           SET current_version = secrets.current_version + 1, updated_at = $7, description = EXCLUDED.description, policy = EXCLUDED.policy
         RETURNING current_version, current_version = 1 AS created
       ), v AS (${INSERT_VERSION} RETURNING version)
       SELECT v.version, s.created FROM v, s`,
      [...versionParams(w), description ?? null, JSON.stringify(policy)],
    );
    const { version, created } = rows[0]!;
    await this.dropOldVersions(w.tenantId, w.name, version);
    return { version, created };
  }

  async addVersion(w: SecretVersionWrite): Promise<{ version: number } | undefined> {
    const { rows } = await this.db.query<{ version: number }>(
      `WITH s AS (
         UPDATE secrets SET current_version = current_version + 1, updated_at = $7 WHERE tenant_id = $1 AND name = $2 RETURNING current_version
       ), v AS (${INSERT_VERSION} RETURNING version)
       SELECT version FROM v`,
      versionParams(w),
    );
    if (rows[0] === undefined) return undefined;
    await this.dropOldVersions(w.tenantId, w.name, rows[0].version);
    return { version: rows[0].version };
  }

  async current(tenantId: string, name: string): Promise<CurrentSecret | undefined> {
    // The tenant key's row comes along: whether it was destroyed is read in the same snapshot, and the vault needs no lookup of its own.
    const { rows } = await this.db.query<CurrentRow>(
      `SELECT s.policy, v.version, v.version_id, v.tenant_key_version, v.wrapped_data_key, v.ciphertext,
              k.master_key_id, k.wrapped_key, k.created_at AS key_created_at, k.destroyed_at AS key_destroyed_at
         FROM secrets s JOIN secret_versions v ON v.tenant_id = s.tenant_id AND v.name = s.name AND v.version = s.current_version
         LEFT JOIN tenant_keys k ON k.tenant_id = v.tenant_id AND k.version = v.tenant_key_version
        WHERE s.tenant_id = $1 AND s.name = $2`,
      [tenantId, name],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      policy: r.policy,
      version: r.version,
      versionId: r.version_id,
      sealed: { tenantKeyVersion: r.tenant_key_version, wrappedDataKey: r.wrapped_data_key, ciphertext: r.ciphertext },
      tenantKey:
        r.master_key_id === null
          ? null
          : {
              owner: tenantId,
              version: r.tenant_key_version,
              masterKeyId: r.master_key_id,
              ...(r.wrapped_key !== null && { wrappedKey: r.wrapped_key }),
              createdAt: Number(r.key_created_at),
              ...(r.key_destroyed_at !== null && { destroyedAt: Number(r.key_destroyed_at) }),
            },
    };
  }

  async get(tenantId: string, name: string): Promise<SecretMetadata | undefined> {
    const { rows } = await this.db.query<SecretRow>(`${METADATA} WHERE s.tenant_id = $1 AND s.name = $2`, [tenantId, name]);
    return rows[0] && fromRow(rows[0]);
  }

  async list(tenantId: string, page: PageRequest): Promise<Page<SecretMetadata>> {
    const after = decodeCursor(page.cursor, SECRET_NAME_PATTERN);
    const { rows } = await this.db.query<SecretRow>(
      `${METADATA} WHERE s.tenant_id = $1 AND ($2::text IS NULL OR s.name > $2) ORDER BY s.name LIMIT $3`,
      [tenantId, after ?? null, page.limit + 1],
    );
    const items = rows.slice(0, page.limit).map(fromRow);
    return rows.length > page.limit ? { items, nextCursor: encodeCursor(items.at(-1)!.name) } : { items };
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    const { rows } = await this.db.query('DELETE FROM secrets WHERE tenant_id = $1 AND name = $2 RETURNING name', [tenantId, name]);
    return rows.length === 1;
  }

  destroyingTenantKeys<T>(_tenantId: string, destroy: () => Promise<T>): Promise<T> {
    return destroy();
  }

  private async dropOldVersions(tenantId: string, name: string, current: number): Promise<void> {
    if (current <= MAX_KEPT_SECRET_VERSIONS) return;
    await this.db.query('DELETE FROM secret_versions WHERE tenant_id = $1 AND name = $2 AND version <= $3', [tenantId, name, current - MAX_KEPT_SECRET_VERSIONS]);
  }
}

function versionParams(w: SecretVersionWrite): unknown[] {
  return [w.tenantId, w.name, w.versionId, w.sealed.tenantKeyVersion, w.sealed.wrappedDataKey, w.sealed.ciphertext, w.at, w.by ?? null];
}
