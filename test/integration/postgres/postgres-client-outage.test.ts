import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../src/domain/index.js';
import { PostgresClient } from '../../../src/infrastructure/persistence/postgres-client.js';
import { CircuitBreakerOpenError } from '../../../src/infrastructure/resilience/errors.js';
import { ResilienceRegistry } from '../../../src/infrastructure/resilience/observer.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';
import { TcpProxy } from '../../support/tcp-proxy.js';

/** The client's own behaviour when the connections under it die: no crash, a 503, a breaker, and a pool that heals. */
describe.skipIf(postgresUrl === null)('PostgresClient when the database goes away', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let client: PostgresClient;
  const resilience = new ResilienceRegistry();

  beforeAll(async () => {
    db = await createTestDatabase();
    const fronted = await TcpProxy.inFrontOf(db.url, 5432);
    proxy = fronted.proxy;
    client = await PostgresClient.connect(fronted.url, { maxConnections: 4, applicationName: 'outage-test', resilience });
  });
  afterAll(async () => {
    await proxy?.restore();
    await client?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('fails a transaction whose connection dies under it with UnavailableError (the process lives on), then opens the breaker and heals', async () => {
    await client.exec('CREATE TABLE IF NOT EXISTS outage (n int)');
    const inFlight = client.transaction(async (tx) => {
      await tx.query('INSERT INTO outage VALUES (1)');
      await tx.query('SELECT pg_sleep(5)');
    });
    await new Promise((r) => setTimeout(r, 200));
    await proxy.cut();
    await expect(inFlight).rejects.toBeInstanceOf(UnavailableError);
    // The connections are refused now: a run of failures opens the database's breaker.
    for (let i = 0; i < 6; i++) await client.query('SELECT 1').catch(() => {});
    await expect(client.query('SELECT 1')).rejects.toBeInstanceOf(CircuitBreakerOpenError);
    expect(resilience.breakerStates()).toEqual([{ name: 'database', state: 'open' }]);

    await proxy.restore();
    // After the breaker's cool-down a probe goes through, and the pool has dropped the dead connections.
    await expect.poll(() => client.query('SELECT 1').then(() => true, () => false), { timeout: 15_000, interval: 250 }).toBe(true);
    expect(resilience.breakerStates()).toEqual([{ name: 'database', state: 'closed' }]);
    // Nothing of the cut transaction was kept.
    expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM outage')).rows[0]!.n).toBe(0);
  }, 30_000);
});
