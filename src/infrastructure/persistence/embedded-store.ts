import { migrate } from './migrate.js';
import { PgliteClient } from './pglite-client.js';
import { EmbeddedVacuum, type EmbeddedVacuumOptions, type VacuumReport } from './embedded-vacuum.js';
import { storeOn, type Store, type StoreOptions } from './store.js';
import { PLAIN } from '../../domain/plain.js';

export interface EmbeddedStoreOptions extends StoreOptions {
  /** What the vacuum of the store's dead rows did (PGlite has no autovacuum), and when it failed. */
  vacuum?: { onVacuum?: (report: VacuumReport) => void; onError?: (error: unknown) => void; options?: EmbeddedVacuumOptions };
}

/**
 * PGlite on disk under `dataDir` (in memory when undefined), migrated, its dead rows vacuumed while
 * it is open. Only this process uses it: the directory is locked until the store closes
 * (DataDirectoryInUseError while another holds it).
 */
export async function openEmbeddedStore(dataDir: string | undefined, options: EmbeddedStoreOptions = {}): Promise<Store> {
  const db = await PgliteClient.open(dataDir);
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  const { vacuum: maintenance = {}, ...storeOptions } = options;
  const vacuum = new EmbeddedVacuum(db, () => store.batcher.flushes + store.audit.appended + store.audit.failed, maintenance, maintenance.options);
  const store = storeOn(db, { ...PLAIN, ...storeOptions, singleProcess: true, beforeClose: () => vacuum.stop() });
  vacuum.start();
  return store;
}

export { storeOn, type Store } from './store.js';
