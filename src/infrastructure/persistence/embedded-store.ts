import { migrate } from './migrate.js';
import { PgliteClient } from './pglite-client.js';
import { storeOn, type Store, type StoreOptions } from './store.js';

/**
 * PGlite on disk under `dataDir` (in memory when undefined), migrated. Only this process uses it:
 * the directory is locked until the store closes (DataDirectoryInUseError while another holds it).
 */
export async function openEmbeddedStore(dataDir: string | undefined, options: StoreOptions = {}): Promise<Store> {
  const db = await PgliteClient.open(dataDir);
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return storeOn(db, { ...options, singleProcess: true });
}

export { storeOn, type Store } from './store.js';
