import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceLock } from '../../../src/infrastructure/persistence/instance-lock.js';
import { liveMeshLeader, recordMeshLeader } from '../../../src/infrastructure/persistence/mesh-leader-record.js';
import { migrate } from '../../../src/infrastructure/persistence/migrate.js';
import { PostgresClient } from '../../../src/infrastructure/persistence/postgres-client.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';

/** The leader's record counts only while the session it names holds the leader lock on this database. */
describe.skipIf(postgresUrl === null)("the mesh leader's record", () => {
  let dbs: TestDatabase[];
  let clients: PostgresClient[];

  beforeAll(async () => {
    dbs = await Promise.all([createTestDatabase(), createTestDatabase()]);
    clients = await Promise.all(dbs.map((db) => PostgresClient.connect(db.url, { maxConnections: 2, applicationName: 'leader-record-test' })));
    await Promise.all(clients.map((c) => migrate(c)));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(dbs.map((db) => db.drop()));
  });

  it('is the live leader while its lock is held, and nothing once the lock goes', async () => {
    const [db] = clients as [PostgresClient];
    expect(await liveMeshLeader(db)).toBeUndefined();
    const { lock, leading } = await InstanceLock.campaign(db, () => {}, 60_000);
    expect(leading).toBe(true);
    await recordMeshLeader(db, { natsNamespace: 'prod', instance: 'mesh-1 pid 7' }, lock.pid!);
    expect(await liveMeshLeader(db)).toEqual({ natsNamespace: 'prod', instance: 'mesh-1 pid 7' });
    // The next leader's record takes the place of the last.
    await recordMeshLeader(db, { natsNamespace: 'staging', redisPrefix: '', instance: 'mesh-2 pid 9' }, lock.pid!);
    expect(await liveMeshLeader(db)).toEqual({ natsNamespace: 'staging', redisPrefix: '', instance: 'mesh-2 pid 9' });
    await lock.release();
    expect(await liveMeshLeader(db)).toBeUndefined();
  });

  it("is not taken from a lock held on another database of the same server", async () => {
    const [first, second] = clients as [PostgresClient, PostgresClient];
    const { lock } = await InstanceLock.campaign(first, () => {}, 60_000);
    try {
      await recordMeshLeader(second, { natsNamespace: 'prod', instance: 'elsewhere' }, lock.pid!);
      expect(await liveMeshLeader(second)).toBeUndefined();
    } finally {
      await lock.release();
    }
  });
});
