import { migrate } from './migrate.js';
import { PostgresClient } from './postgres-client.js';
import { storeOn, type Store } from './store.js';

/** Held for the life of an instance: this build's queues and leases live in one process. */
export const INSTANCE_LOCK_KEY = 0x61676d74;

export class DatabaseInUseError extends Error {
  constructor() {
    super('another agentmesh instance is using this database; this build runs one instance per database (stop the other, or give this one its own database)');
    this.name = 'DatabaseInUseError';
  }
}

/** PostgreSQL at `url`: connected, migrated under an advisory lock, and held by this instance alone. */
export async function openPostgresStore(url: string, options: { maxConnections?: number } = {}): Promise<Store> {
  const db = await PostgresClient.connect(url, { maxConnections: options.maxConnections ?? 10, applicationName: 'agentmesh' });
  try {
    const release = await db.tryHoldAdvisoryLock(INSTANCE_LOCK_KEY);
    if (!release) throw new DatabaseInUseError();
    try {
      await migrate(db);
    } catch (error) {
      await release();
      throw error;
    }
    return storeOn(db, { cacheActiveTasks: true, beforeClose: release });
  } catch (error) {
    await db.close();
    throw error;
  }
}
