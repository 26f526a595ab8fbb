import { MIGRATIONS, type Migration } from './migrations/index.js';
import type { SqlClient } from './sql-client.js';

export class SchemaTooNewError extends Error {
  constructor(databaseVersion: number, codeVersion: number) {
    super(`the database schema is at version ${databaseVersion}, newer than this build knows (${codeVersion}); upgrade agentmesh`);
    this.name = 'SchemaTooNewError';
  }
}

/** Applies pending migrations in order, each in its own transaction. Returns the versions applied. */
export async function migrate(db: SqlClient, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const { rows } = await db.query<{ version: number }>('SELECT coalesce(max(version), 0)::int AS version FROM schema_migrations');
  const current = rows[0]?.version ?? 0;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) throw new SchemaTooNewError(current, latest);
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    await db.transaction(async (tx) => {
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    });
    applied.push(m.version);
  }
  return applied;
}
