import { afterAll } from 'vitest';
import { openPostgresStore } from '../../../src/infrastructure/persistence/postgres-store.js';
import { storeContract } from '../../contracts/store.contract.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';

let database: TestDatabase | undefined;
afterAll(async () => database?.drop());

storeContract(
  'PostgreSQL',
  async () => {
    database = await createTestDatabase();
    return openPostgresStore(database.url, { relayEvents: true });
  },
  { skip: postgresUrl === null },
);
