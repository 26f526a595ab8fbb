import { existsSync } from 'node:fs';
import { loadConfig, redactUrl, type Env } from '../../config.js';
import { migrate } from '../../infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../infrastructure/persistence/pglite-client.js';
import { PostgresClient } from '../../infrastructure/persistence/postgres-client.js';
import type { SqlClient } from '../../infrastructure/persistence/sql-client.js';
import { UsageError } from './usage-error.js';

/**
 * The mesh's database as `agentmesh serve` would open it, migrated. The embedded one is locked
 * while open: while a running mesh (or another command) holds it, this throws
 * DataDirectoryInUseError, which names the process (PGlite has one process at a time).
 */
export async function openDatabase(purpose: string, env: Env): Promise<{ db: SqlClient; where: string; applied: number[]; created: boolean }> {
  const config = loadConfig(env);
  if (config.databaseUrl !== undefined) {
    const url = config.databaseUrl;
    const db = await PostgresClient.connect(url, { maxConnections: 1, applicationName: `agentmesh ${purpose}` }).catch((error: Error) => {
      throw new Error(`cannot use PostgreSQL at AGENTMESH_DATABASE_URL (${redactUrl(url)}): ${error.message}`);
    });
    try {
      return { db, where: redactUrl(url), applied: await migrate(db), created: false };
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  if (config.dataDir === undefined) throw new UsageError('AGENTMESH_DATA_DIR is :memory:, which keeps nothing; point it at a data directory or set AGENTMESH_DATABASE_URL');
  if (purpose !== 'migrate' && !existsSync(config.dataDir)) {
    throw new UsageError(`there is no embedded database at ${config.dataDir}: set AGENTMESH_DATA_DIR to the mesh's data directory, or AGENTMESH_DATABASE_URL`);
  }
  const db = await PgliteClient.open(config.dataDir);
  try {
    return { db, where: config.dataDir, applied: await migrate(db), created: db.created };
  } catch (error) {
    await db.close();
    throw error;
  }
}
