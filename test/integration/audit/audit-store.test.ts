import { migrate } from '../../../src/infrastructure/persistence/migrate.js';
import { PgliteClient } from '../../../src/infrastructure/persistence/pglite-client.js';
import { auditStoreContract } from '../../contracts/audit-store.contract.js';

const open = async () => {
  const db = await PgliteClient.open(undefined);
  await migrate(db);
  // One process has one PGlite: both "instances" share it.
  return { first: db, second: db, close: () => db.close() };
};
auditStoreContract('embedded (PGlite in memory)', open, { soleWriter: true });
auditStoreContract('embedded (PGlite in memory)', open);
