import type { KeyEncryptionKeyRecord, KeyEncryptionKeyRepository } from '../../application/ports.js';
import type { SqlExecutor } from './sql-client.js';
import { isUniqueViolation } from './sql-client.js';

interface KeyRow {
  owner: string;
  version: number;
  master_key_id: string;
  wrapped_key: string | null;
  created_at: string | number;
  destroyed_at: string | number | null;
}

const fromRow = (r: KeyRow): KeyEncryptionKeyRecord => ({
  owner: r.owner,
  version: r.version,
  masterKeyId: r.master_key_id,
  ...(r.wrapped_key !== null && { wrappedKey: r.wrapped_key }),
  createdAt: Number(r.created_at),
  ...(r.destroyed_at !== null && { destroyedAt: Number(r.destroyed_at) }),
});

/** Where an owner's keys are kept: `tenant_keys` (owner column tenant_id) or `audit_subject_keys` (owner). */
export interface KeyTable {
  table: 'tenant_keys' | 'audit_subject_keys';
  ownerColumn: 'tenant_id' | 'owner';
}

export const TENANT_KEYS: KeyTable = { table: 'tenant_keys', ownerColumn: 'tenant_id' };
export const AUDIT_SUBJECT_KEYS: KeyTable = { table: 'audit_subject_keys', ownerColumn: 'owner' };

export class SqlKeyEncryptionKeyRepository implements KeyEncryptionKeyRepository {
  private readonly columns: string;

  constructor(
    private readonly db: SqlExecutor,
    private readonly where: KeyTable,
  ) {
    this.columns = `${where.ownerColumn} AS owner, version, master_key_id, wrapped_key, created_at, destroyed_at`;
  }

  async current(owner: string): Promise<KeyEncryptionKeyRecord | undefined> {
    const { table, ownerColumn } = this.where;
    const { rows } = await this.db.query<KeyRow>(`SELECT ${this.columns} FROM ${table} WHERE ${ownerColumn} = $1 ORDER BY version DESC LIMIT 1`, [owner]);
    const row = rows[0];
    return row !== undefined && row.wrapped_key !== null ? fromRow(row) : undefined;
  }

  async currentWrappedBy(owner: string, masterKeyIds: readonly string[]): Promise<KeyEncryptionKeyRecord | undefined> {
    const { table, ownerColumn } = this.where;
    const { rows } = await this.db.query<KeyRow>(
      `SELECT ${this.columns} FROM ${table} WHERE ${ownerColumn} = $1 AND destroyed_at IS NULL AND master_key_id = ANY($2::text[]) ORDER BY version DESC LIMIT 1`,
      [owner, [...masterKeyIds]],
    );
    return rows[0] && fromRow(rows[0]);
  }

  async get(owner: string, version: number): Promise<KeyEncryptionKeyRecord | undefined> {
    const { table, ownerColumn } = this.where;
    const { rows } = await this.db.query<KeyRow>(`SELECT ${this.columns} FROM ${table} WHERE ${ownerColumn} = $1 AND version = $2`, [owner, version]);
    return rows[0] && fromRow(rows[0]);
  }

  async latestVersion(owner: string): Promise<number> {
    const { table, ownerColumn } = this.where;
    const { rows } = await this.db.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${table} WHERE ${ownerColumn} = $1`, [owner]);
    return rows[0]?.version ?? 0;
  }

  async create(r: KeyEncryptionKeyRecord): Promise<boolean> {
    const { table, ownerColumn } = this.where;
    try {
      await this.db.query(`INSERT INTO ${table} (${ownerColumn}, version, master_key_id, wrapped_key, created_at) VALUES ($1, $2, $3, $4, $5)`, [
        r.owner,
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

  async destroyAll(owner: string, now: number): Promise<number> {
    const { table, ownerColumn } = this.where;
    const { rows } = await this.db.query<{ version: number }>(
      `UPDATE ${table} SET wrapped_key = NULL, destroyed_at = $2 WHERE ${ownerColumn} = $1 AND destroyed_at IS NULL RETURNING version`,
      [owner, now],
    );
    return rows.length;
  }

  /**
   * An UPDATE leaves the row's old version in the table's file until a vacuum, and PGlite never
   * vacuums by itself: a shredded key stayed readable from the data directory. VACUUM FULL writes
   * the (small) table anew and drops the old file. PostgreSQL lets only the table's owner do it: to
   * a run-time role that is not the owner it is a warning, and autovacuum removes them later.
   */
  async purgeReplaced(): Promise<void> {
    await this.db.exec(`VACUUM FULL ${this.where.table}`);
  }

  async wrappedByOtherThan(masterKeyId: string, limit: number): Promise<KeyEncryptionKeyRecord[]> {
    const { table, ownerColumn } = this.where;
    const { rows } = await this.db.query<KeyRow>(
      `SELECT ${this.columns} FROM ${table} WHERE destroyed_at IS NULL AND master_key_id <> $1 ORDER BY ${ownerColumn}, version LIMIT $2`,
      [masterKeyId, limit],
    );
    return rows.map(fromRow);
  }

  async rewrap(owner: string, version: number, fromMasterKeyId: string, toMasterKeyId: string, wrappedKey: string): Promise<boolean> {
    const { table, ownerColumn } = this.where;
    const { rows } = await this.db.query(
      `UPDATE ${table} SET master_key_id = $4, wrapped_key = $5 WHERE ${ownerColumn} = $1 AND version = $2 AND master_key_id = $3 AND destroyed_at IS NULL RETURNING version`,
      [owner, version, fromMasterKeyId, toMasterKeyId, wrappedKey],
    );
    return rows.length === 1;
  }
}
