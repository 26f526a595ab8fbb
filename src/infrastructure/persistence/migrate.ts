import { MIGRATIONS, type Migration } from './migrations/index.js';
import type { SqlClient } from './sql-client.js';

export class SchemaTooNewError extends Error {
  constructor(databaseVersion: number, codeVersion: number) {
    super(`the database schema is at version ${databaseVersion}, newer than this build knows (${codeVersion}); upgrade agentmesh`);
    this.name = 'SchemaTooNewError';
  }
}

/** Key of the transaction-level advisory lock that serialises migrations ('agentmsh' in ASCII, truncated to int4 range). */
export const MIGRATION_LOCK_KEY = 0x61676d73;

/** The table that records the migrations applied (made by migrate itself, before the first). */
export const SCHEMA_MIGRATIONS_TABLE = `CREATE TABLE schema_migrations (
  version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;

/**
 * Applies pending migrations in order, all in one transaction under an advisory lock: instances
 * starting together on one database migrate once (the others wait, then find nothing to do), and
 * a failing migration leaves the schema as it was. Returns the versions applied.
 */
export async function migrate(db: SqlClient, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    // Only when missing: a run-time role without CREATE on the schema must get past this on a migrated database.
    const { rows: found } = await tx.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
    if (!found[0]?.present) {
      await tx.exec(SCHEMA_MIGRATIONS_TABLE);
    }
    const { rows } = await tx.query<{ version: number }>('SELECT coalesce(max(version), 0)::int AS version FROM schema_migrations');
    const current = rows[0]?.version ?? 0;
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) throw new SchemaTooNewError(current, latest);
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
