import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, SchemaTooNewError } from '../../../src/infrastructure/persistence/migrate.js';
import { PostgresClient } from '../../../src/infrastructure/persistence/postgres-client.js';
import { INSTANCE_LOCK_KEY } from '../../../src/infrastructure/persistence/instance-lock.js';
import { MIGRATIONS } from '../../../src/infrastructure/persistence/migrations/index.js';
import { DatabaseInUseError } from '../../../src/infrastructure/persistence/postgres-store.js';
import { Agent } from '../../../src/sdk/index.js';
import { eventually, startHarness, type Harness } from '../../support/mesh-harness.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';
import { serveUntilExit as serve } from '../../support/serve-process.js';
import { TcpProxy } from '../../support/tcp-proxy.js';

/** The whole mesh on a real PostgreSQL: the same API, delivery and restart guarantees as on PGlite. */
describe.skipIf(postgresUrl === null)('mesh on PostgreSQL', () => {
  let db: TestDatabase;
  let h: Harness | undefined;
  const env = () => ({ AGENTMESH_DATABASE_URL: db.url });

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await h?.stop();
    await db?.drop();
  });

  it('routes tasks of every strategy to SDK agents and completes them', async () => {
    h = await startHarness(env());
    const workers = await Promise.all(
      [0, 1, 2].map((i) =>
        new Agent({ url: h!.url, apiKey: h!.adminKey, name: `pg-agent-${i}`, capabilities: [{ name: 'double' }], maxConcurrentTasks: 4, heartbeatIntervalMs: 200, transport: i === 2 ? 'poll' : 'stream' })
          .handle('double', async (input: { n: number }) => ({ doubled: input.n * 2, by: i }))
          .start(),
      ),
    );
    try {
      const strategies = ['round_robin', 'least_loaded', 'affinity', 'priority'] as const;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, n) => {
          const strategy = strategies[n % strategies.length]!;
          return h!.admin.run<{ doubled: number; by: number }>('double', { n }, { routing: { strategy, ...(strategy === 'affinity' && { affinityKey: `k${n % 3}` }) }, timeoutMs: 15_000 });
        }),
      );
      expect(results.map((r) => r.status)).toEqual(Array(40).fill('completed'));
      expect(results.map((r) => r.output?.doubled)).toEqual(Array.from({ length: 40 }, (_, n) => n * 2));
      expect(new Set(results.map((r) => r.output?.by)).size).toBe(3);

      const broadcast = await h.admin.run('double', { n: 21 }, { routing: { strategy: 'broadcast' }, timeoutMs: 15_000 });
      expect(broadcast.status).toBe('completed');

      // The rows are in PostgreSQL, not in some process memory.
      const check = new pg.Client({ connectionString: db.url });
      await check.connect();
      const { rows } = await check.query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE type = 'TaskCompleted'`);
      await check.end();
      expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(41);
    } finally {
      await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
    }
  }, 60_000);

  it('answers a batch of submits sharing an idempotency key in the batch order: the first submits, its repeat is 200, another body 409', async () => {
    for (let round = 0; round < 8; round++) {
      const key = `pg-batch-key-${round}`;
      const tasks = [
        { capability: 'pg-batch', input: 1, idempotencyKey: key },
        { capability: 'pg-batch', input: 1, idempotencyKey: key },
        { capability: 'pg-batch', input: 2, idempotencyKey: key },
        { capability: 'pg-batch', input: round },
      ];
      const answer = await h!.request('POST', '/v1/tasks/batch', { body: { tasks } });
      expect(answer.status).toBe(200);
      const results = answer.body.results as Array<{ status: number; body: { id?: string } }>;
      expect(results.map((r) => r.status)).toEqual([202, 200, 409, 202]);
      expect(results[1]!.body.id).toBe(results[0]!.body.id);
    }
  });

  it('refuses a second instance on the same database while the first runs', async () => {
    await expect(startHarness(env())).rejects.toBeInstanceOf(DatabaseInUseError);
    const run = await serve(env());
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^agentmesh: another agentmesh instance is using this database/);
  }, 30_000);

  it('keeps queued and leased tasks across a restart, and finishes them', async () => {
    const agent = await h!.admin.registerAgent({ id: 'pg-survivor', name: 'survivor', capabilities: [{ name: 'persist' }] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await h!.admin.submit('persist', { i }, { leaseMs: 60_000 })).id);
    const leased = await h!.admin.nextTask(agent.id, 2000);
    expect(leased?.id).toBe(ids[0]);
    await h!.stop();

    h = await startHarness(env());
    expect((await h.admin.get(ids[0]!)).status).toBe('running');
    await h.admin.complete(ids[0]!, agent.id, { after: 'restart' });
    await eventually(async () => {
      const next = await h!.admin.nextTask(agent.id, 200);
      if (next) await h!.admin.complete(next.id, agent.id, { after: 'restart' });
      const statuses = await Promise.all(ids.map(async (id) => (await h!.admin.get(id)).status));
      return statuses.every((s) => s === 'completed');
    }, 15_000, 'every task completed after the restart');
  }, 60_000);

  it('migrates once when instances start together, and refuses a database newer than the code', async () => {
    const fresh = await createTestDatabase();
    const clients = await Promise.all([1, 2, 3].map(() => PostgresClient.connect(fresh.url, { maxConnections: 2, applicationName: 'migrate-race' })));
    try {
      const applied = await Promise.all(clients.map((c) => migrate(c)));
      expect(applied.flat()).toEqual(MIGRATIONS.map((m) => m.version));
      await clients[0]!.query(`INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')`);
      await expect(migrate(clients[1]!)).rejects.toBeInstanceOf(SchemaTooNewError);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const run = await serve({ AGENTMESH_DATABASE_URL: fresh.url });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(new RegExp(`^agentmesh: the database schema is at version 99, newer than this build knows \\(${MIGRATIONS.at(-1)!.version}\\)`));
    await fresh.drop();
  }, 30_000);

  it('says which variable is wrong when PostgreSQL is unreachable or the URL is malformed', async () => {
    const missingDb = new URL(db.url);
    missingDb.pathname = '/agentmesh_no_such_database';
    // Three processes that share nothing: at once.
    const [unreachable, malformed, missing] = await Promise.all([
      serve({ AGENTMESH_DATABASE_URL: 'postgres://mesh:hunter2@127.0.0.1:1/agentmesh' }),
      serve({ AGENTMESH_DATABASE_URL: 'not a url' }),
      serve({ AGENTMESH_DATABASE_URL: missingDb.toString() }),
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.stderr).toMatch(/^agentmesh: cannot use PostgreSQL at AGENTMESH_DATABASE_URL \(postgres:\/\/mesh:\*\*\*@127\.0\.0\.1:1\/agentmesh\): .*ECONNREFUSED/);
    expect(unreachable.stderr).not.toContain('hunter2');

    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^agentmesh: AGENTMESH_DATABASE_URL is not a URL/);

    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/database "agentmesh_no_such_database" does not exist/);
  }, 60_000);
});

/** PostgreSQL lost after start, seen through a proxy the test cuts: readiness and submits say 503, and all is well when it returns. */
describe.skipIf(postgresUrl === null)('mesh on PostgreSQL: the database goes away and comes back', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let h: Harness;

  beforeAll(async () => {
    db = await createTestDatabase();
    const fronted = await TcpProxy.inFrontOf(db.url, 5432);
    proxy = fronted.proxy;
    h = await startHarness({ AGENTMESH_DATABASE_URL: fronted.url });
  });
  afterAll(async () => {
    await proxy?.restore();
    await h?.stop();
    await proxy?.close();
    await db?.drop();
  });

  /** One sample of the mesh's /metrics, by its name and labels as printed. */
  const metric = async (series: string) => {
    const text = (await h.request('GET', '/metrics')).body as string;
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('opens the database breaker, answers submits 503 with Retry-After at once meanwhile, closes it when the database returns, and loses nothing', async () => {
    const agent = await h.admin.registerAgent({ id: 'outage-agent', name: 'outage', capabilities: [{ name: 'outage' }] });
    const before = await h.admin.submit('outage', { n: 1 });
    expect((await h.request('GET', '/health/ready')).status).toBe(200);

    await proxy.cut();
    const down = await eventually(async () => {
      const res = await h.request('GET', '/health/ready');
      return res.status === 503 ? res : undefined;
    }, 10_000, 'readiness to say 503');
    expect(down.body).toMatchObject({ status: 'not_ready', checks: { store: { status: 'down' }, broker: { status: 'up' } } });
    // The failed probes opened the database's breaker: a submit now fails fast, without waiting on the network.
    await eventually(async () => (await metric('agentmesh_circuit_breaker_state{policy="database"}')) === 1, 10_000, "the database's breaker to open");
    const refused = await h.request('POST', '/v1/tasks', { body: { capability: 'outage', input: { n: 2 } } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(5);
    expect(refused.body.detail).toMatch(/database is unavailable: its circuit breaker is open \(the database is unreachable/);
    expect(await metric('agentmesh_circuit_breaker_transitions_total{policy="database",to="open"}')).toBeGreaterThanOrEqual(1);

    await proxy.restore();
    // A probe after the breaker's cool-down (5 s) finds the database again: no restart, no traffic needed.
    await eventually(async () => (await h.request('GET', '/health/ready')).status === 200, 15_000, 'readiness to come back');
    expect(await metric('agentmesh_circuit_breaker_state{policy="database"}')).toBe(0);
    expect(await metric('agentmesh_circuit_breaker_transitions_total{policy="database",to="closed"}')).toBeGreaterThanOrEqual(1);
    const after = await h.admin.submit('outage', { n: 3 });
    for (const expected of [before.id, after.id]) {
      const delivered = await h.admin.nextTask(agent.id, 5000);
      expect(delivered?.id).toBe(expected);
      await h.admin.complete(expected, agent.id, { ok: true });
    }
    expect((await h.admin.get(before.id)).status).toBe('completed');
    expect((await h.admin.get(after.id)).status).toBe('completed');
    // The refused submit left nothing behind.
    expect((await h.admin.list({ capability: 'outage' })).items).toHaveLength(2);
  }, 60_000);

  it('retakes the instance lock when the database returns, so a second instance is still refused', async () => {
    // Watch the lock from outside: a second instance tried too early would take it itself.
    const holders = async () => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
           WHERE l.locktype = 'advisory' AND l.granted AND l.objid = $1::oid AND d.datname = current_database()`,
          [INSTANCE_LOCK_KEY],
        );
        return rows[0]!.n;
      } finally {
        await client.end();
      }
    };
    await eventually(async () => (await holders()) === 1, 10_000, 'the lock to be held again');
    await expect(startHarness({ AGENTMESH_DATABASE_URL: db.url })).rejects.toBeInstanceOf(DatabaseInUseError);
  }, 30_000);
});
