import { migrate } from './migrate.js';
import { PgliteClient } from './pglite-client.js';
import { storeOn, type Store, type StoreOptions } from './store.js';

/** PGlite on disk under `dataDir` (in memory when undefined), migrated. Only this process writes it. */
export async function openEmbeddedStore(dataDir: string | undefined, options: StoreOptions = {}): Promise<Store> {
  const db = await PgliteClient.open(dataDir);
  await migrate(db);
  return storeOn(db, { ...options, singleProcess: true });
}

export { storeOn, type Store } from './store.js';
