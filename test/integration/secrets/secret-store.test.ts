import { migrate } from '../../../src/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../../src/infrastructure/persistence/pglite-client.js';
import { secretStoreContract } from '../../contracts/secret-store.contract.js';

secretStoreContract('embedded (PGlite in memory)', async () => {
  const db = await PgliteClient.open(undefined);
  await migrate(db);
  // One process has one PGlite: both "instances" share it.
  return { first: db, second: db, close: () => db.close() };
});
