import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/infrastructure/persistence/migrate.js';
import { PostgresClient } from '../../../src/infrastructure/persistence/postgres-client.js';
import { auditStoreContract } from '../../contracts/audit-store.contract.js';
import { registerAgent, submitTask } from '../../support/api-helpers.js';
import { cli, cliInProcess, oneLine, ROOT } from '../../support/cli-run.js';
import { startHarness } from '../../support/mesh-harness.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';

const skip = postgresUrl === null;
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const d of databases) await d.drop();
});

auditStoreContract(
  'PostgreSQL, two pools',
  async () => {
    const database = await createTestDatabase();
    databases.push(database);
    const first = await PostgresClient.connect(database.url, { maxConnections: 4, applicationName: 'audit-contract-a' });
    const second = await PostgresClient.connect(database.url, { maxConnections: 4, applicationName: 'audit-contract-b' });
    await migrate(first);
    return { first, second, close: async () => (await first.close(), await second.close()) };
  },
  { skip },
);

auditStoreContract(
  'PostgreSQL, one pool',
  async () => {
    const database = await createTestDatabase();
    databases.push(database);
    const db = await PostgresClient.connect(database.url, { maxConnections: 4, applicationName: 'audit-contract-sole' });
    await migrate(db);
    return { first: db, second: db, close: () => db.close() };
  },
  { skip, soleWriter: true },
);

function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
}

describe.skipIf(skip)('audit log on PostgreSQL with a least-privilege run-time role', () => {
  let database: TestDatabase;
  const role = `agentmesh_rt_${process.pid}_${Date.now().toString(36)}`;

  beforeAll(async () => {
    database = await createTestDatabase();
    databases.push(database);
    // The owner (here the superuser) migrates; deploy/postgres/runtime-role.sql grants the run-time role.
    const migrated = await cli(['migrate'], { AGENTMESH_DATABASE_URL: database.url });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/applied migration\(s\) 1, 2, 3/u);
    expect((await cliInProcess(['migrate'], { AGENTMESH_DATABASE_URL: database.url })).stdout).toContain('the schema is up to date');
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.end();
    execFileSync('psql', [database.url, '-q', '-v', `role=${role}`, '-f', 'deploy/postgres/runtime-role.sql'], { cwd: ROOT, stdio: 'pipe' });
  }, 60_000);
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: postgresUrl! });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  it('runs the mesh as that role, which may append to the log but not UPDATE, DELETE or TRUNCATE it', async () => {
    const url = withUser(database.url, role);
    const h = await startHarness({ AGENTMESH_DATABASE_URL: url });
    try {
      await registerAgent(h, 'pg-agent', ['work']);
      await submitTask(h, { capability: 'work', input: {} });
      const log = (await h.request('GET', '/v1/audit?limit=10')).body.items;
      expect(log.map((e: any) => e.action)).toEqual(expect.arrayContaining(['AGENT_CREATED', 'TASK_SUBMITTED']));
    } finally {
      await h.close();
    }
    const runtime = new pg.Client({ connectionString: url });
    await runtime.connect();
    try {
      for (const statement of [
        "UPDATE audit_log SET status = 'failure'",
        'DELETE FROM audit_log',
        'TRUNCATE audit_log',
        'DELETE FROM audit_checkpoints',
        "UPDATE audit_signing_keys SET public_key = ''",
        "INSERT INTO audit_prunes VALUES ('default', 1, 'x', 1, 0, 1)",
        'DELETE FROM audit_retention_changes',
      ]) {
        await expect(runtime.query(statement), statement).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/^permission denied for table audit_/u) });
      }
      // A row below the chain's first seq is refused to every role.
      await expect(runtime.query("INSERT INTO audit_log (tenant_id, seq, id, at, actor_type, action, resource_type, resource_id, status, details, prev_hash, hash) VALUES ('default', 0, 'f', 1, 'key', 'X', 'x', 'x', 'success', '{}', 'p', 'h')")).rejects.toMatchObject({ code: '23514' });
      // A retention it sets or changes with SQL is on record, with who did it.
      await runtime.query("INSERT INTO audit_retention (tenant_id, days, updated_at) VALUES ('default', 30, 1) ON CONFLICT (tenant_id) DO UPDATE SET days = 30");
      await runtime.query("UPDATE audit_retention SET days = 1 WHERE tenant_id = 'default'");
      const { rows: history } = await runtime.query("SELECT days, previous_days, changed_by FROM audit_retention_changes WHERE tenant_id = 'default' ORDER BY changed_at, days DESC");
      expect(history.slice(-2)).toEqual([
        { days: 30, previous_days: null, changed_by: role },
        { days: 1, previous_days: 30, changed_by: role },
      ]);
      await runtime.query("DELETE FROM audit_retention WHERE tenant_id = 'default'");
      // The owner is refused too, by the triggers.
      const owner = new pg.Client({ connectionString: database.url });
      await owner.connect();
      await expect(owner.query("UPDATE audit_log SET status = 'failure'")).rejects.toMatchObject({ code: '42501', message: 'audit_log is append-only (UPDATE refused)' });
      await owner.end();
    } finally {
      await runtime.end();
    }
  }, 60_000);

  it('agentmesh audit verify exits 0 on the intact log and 1, naming the entry, once a superuser altered it', async () => {
    const intact = await cliInProcess(['audit', 'verify'], { AGENTMESH_DATABASE_URL: database.url });
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.stdout).toMatch(/tenant default: entries 1-\d+, head \d+, \d+ checkpoint\(s\).*: intact/u);
    const superuser = new pg.Client({ connectionString: database.url });
    await superuser.connect();
    await superuser.query("SET session_replication_role = 'replica'");
    const { rows } = await superuser.query("UPDATE audit_log SET details = '{\"capability\":\"forged\"}' WHERE tenant_id = 'default' AND action = 'TASK_SUBMITTED' RETURNING id, seq");
    await superuser.end();
    const run = await cliInProcess(['audit', 'verify', '--tenant', 'default'], { AGENTMESH_DATABASE_URL: database.url });
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toBe(`agentmesh: the audit log of tenant 'default' failed verification at entry ${rows[0].seq} (${rows[0].id}): was altered (its content does not hash to its hash)`);
  }, 60_000);
});
