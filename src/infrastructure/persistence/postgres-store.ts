import { InstanceLock, type InstanceLockEvent } from './instance-lock.js';
import { migrate } from './migrate.js';
import { PostgresClient } from './postgres-client.js';
import { storeOn, type Store, type StoreOptions } from './store.js';

export { DatabaseInUseError, type InstanceLockEvent } from './instance-lock.js';

export interface PostgresStoreOptions extends StoreOptions {
  maxConnections?: number;
  /** What happens to the instance lock after start: lost with the connection, regained, or stolen. */
  onLockEvent?: (event: InstanceLockEvent) => void;
}

/** PostgreSQL at `url`: connected, migrated under an advisory lock, and held by this instance alone. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const db = await PostgresClient.connect(url, { maxConnections: options.maxConnections ?? 10, applicationName: 'agentmesh' });
  try {
    const lock = await InstanceLock.acquire(db, options.onLockEvent);
    try {
      await migrate(db);
    } catch (error) {
      await lock.release();
      throw error;
    }
    // Several commits in flight on the pool: a server commits them in parallel (and flushes its WAL once for them).
    return storeOn(db, { relayEvents: options.relayEvents ?? false, cacheActiveTasks: true, singleProcess: false, concurrentFlushes: 4, beforeClose: () => lock.release() });
  } catch (error) {
    await db.close();
    throw error;
  }
}
