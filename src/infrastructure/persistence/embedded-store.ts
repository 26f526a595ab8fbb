import { CachedTaskRepository } from './cached-task-repository.js';
import { migrate } from './migrate.js';
import { PgliteClient } from './pglite-client.js';
import { SqlAgentRepository } from './sql-agent-repository.js';
import { SqlApiKeyRepository } from './sql-api-key-repository.js';
import type { SqlClient } from './sql-client.js';
import { SqlEventStore } from './sql-event-store.js';
import { SqlTaskRepository } from './sql-task-repository.js';
import { SqlTenantRepository } from './sql-tenant-repository.js';
import { WriteBatcher } from './write-batcher.js';

export interface Store {
  db: SqlClient;
  batcher: WriteBatcher;
  tenants: SqlTenantRepository;
  apiKeys: SqlApiKeyRepository;
  agents: SqlAgentRepository;
  tasks: CachedTaskRepository | SqlTaskRepository;
  events: SqlEventStore;
  close(): Promise<void>;
}

export function storeOn(db: SqlClient, options: { cacheActiveTasks: boolean }): Store {
  const batcher = new WriteBatcher(db);
  const sqlTasks = new SqlTaskRepository(db, batcher);
  return {
    db,
    batcher,
    tenants: new SqlTenantRepository(db),
    apiKeys: new SqlApiKeyRepository(db),
    agents: new SqlAgentRepository(db),
    tasks: options.cacheActiveTasks ? new CachedTaskRepository(sqlTasks) : sqlTasks,
    events: new SqlEventStore(db),
    async close() {
      await batcher.drain();
      await db.close();
    },
  };
}

/** PGlite on disk under `dataDir` (in memory when undefined), migrated. Only this process writes it. */
export async function openEmbeddedStore(dataDir: string | undefined): Promise<Store> {
  const db = await PgliteClient.open(dataDir);
  await migrate(db);
  return storeOn(db, { cacheActiveTasks: true });
}
