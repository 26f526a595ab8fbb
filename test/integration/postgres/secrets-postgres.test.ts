import { afterAll } from 'vitest';
import { migrate } from '../../../src/infrastructure/persistence/migrate.js';
import { PostgresClient } from '../../../src/infrastructure/persistence/postgres-client.js';
import { secretStoreContract } from '../../contracts/secret-store.contract.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';

const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const d of databases) await d.drop();
});

secretStoreContract(
  'PostgreSQL, two pools',
  async () => {
    const database = await createTestDatabase();
    databases.push(database);
    const first = await PostgresClient.connect(database.url, { maxConnections: 4, applicationName: 'secrets-contract-a' });
    const second = await PostgresClient.connect(database.url, { maxConnections: 4, applicationName: 'secrets-contract-b' });
    await migrate(first);
    return { first, second, close: async () => (await first.close(), await second.close()) };
  },
  { skip: postgresUrl === null },
);
