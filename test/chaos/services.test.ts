import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { chaosBinaries } from './support/binaries.js';
import { isAlive } from './support/process-tree.mjs';
import { ChaosServices } from './support/services.js';

const refuses = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** The chaos suites' own servers: kill -9 takes them down at once, restart brings them back on the same port and data, nothing is left behind. */
describe.skipIf(chaosBinaries === undefined)('the chaos suites own PostgreSQL, NATS and Redis', () => {
  let services: ChaosServices | undefined;
  afterAll(async () => services?.dispose());

  it('start, survive kill -9 and restart with their data (Redis empty, by choice), and leave nothing behind', { timeout: 60_000 }, async () => {
    services = await ChaosServices.start(chaosBinaries!);
    const { postgres, nats, redis } = services;
    await sql(postgres.url(), 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    const nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.add({ name: 'KEPT', subjects: ['kept.>'] });
    await nc.close();
    const r = new Redis(redis.url);
    await r.set('gone', '1');
    r.disconnect();

    const pids = [postgres.pid!, nats.pid!, redis.pid!];
    await Promise.all([postgres.kill9(), nats.kill9(), redis.kill9()]);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await Promise.all([postgres.port, nats.port, redis.port].map(refuses))).toEqual([true, true, true]);

    await Promise.all([postgres.start(), nats.start(), redis.start()]);
    expect(postgres.downtimeMs).toBeGreaterThan(0);
    expect(await sql(postgres.url(), 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
    const again = await connect({ servers: nats.url });
    expect((await (await jetstreamManager(again)).streams.info('KEPT')).config.name).toBe('KEPT');
    await again.close();
    const r2 = new Redis(redis.url);
    expect(await r2.get('gone')).toBeNull();
    r2.disconnect();

    const [live, dirs] = [[postgres.pid!, nats.pid!, redis.pid!], [postgres.dir, nats.dir, redis.dir]];
    await services.dispose();
    services = undefined;
    expect(live.filter(isAlive)).toEqual([]);
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
  });
});
