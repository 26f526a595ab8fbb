import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/sdk/index.js';
import { createApiKey, expectProblem, expectStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';
import { deleteNamespaceStreams, natsUrl, newNamespace } from '../../support/nats.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Secrets in a mesh of two instances on PostgreSQL and NATS: written through one, read by an agent on the other. */
describe.skipIf(natsUrl === null || postgresUrl === null)('secrets across instances', () => {
  const namespace = newNamespace();
  const harnesses: Harness[] = [];
  let db: TestDatabase;
  let agent: Agent | undefined;
  afterAll(async () => {
    await agent?.stop();
    await Promise.all(harnesses.map((h) => h.stop()));
    await db?.drop();
    await deleteNamespaceStreams([namespace]);
  });

  it('seals on one instance and opens on the other with the same master key; a rotation or a destruction on either binds both; an instance without the key answers 503 for secrets and still audits', async () => {
    db = await createTestDatabase();
    const env = { AGENTMESH_DATABASE_URL: db.url, AGENTMESH_NATS_URL: natsUrl!, AGENTMESH_NATS_NAMESPACE: namespace };
    const masterKey = randomBytes(32).toString('base64');
    const a = await startHarness({ ...env, AGENTMESH_MASTER_KEY: masterKey });
    harnesses.push(a);
    const b = await startHarness({ ...env, AGENTMESH_MASTER_KEY: masterKey });
    harnesses.push(b);

    const agentKey = await createApiKey(a, 'agent', a.adminKey, 'reader', 'reader-1');
    agent = await new Agent({ url: b.url, apiKey: agentKey.key, id: 'reader-1', name: 'reader', capabilities: ['fetch'], heartbeatIntervalMs: 300 })
      .handle('fetch', async (_input, context) => ({ sha256: sha256(await context.secret('token')) }))
      .start();
    const run = async () => {
      const { id } = await a.admin.submit('fetch', {}, { secrets: ['token'] });
      return a.admin.waitForResult(id, { timeoutMs: 15_000 });
    };

    expectStatus(await a.request('PUT', '/v1/secrets/token', { body: { value: 'sealed-on-a', policy: { capabilities: ['fetch'] } } }), 201);
    expect((await run()).output).toEqual({ sha256: sha256('sealed-on-a') });
    expectStatus(await b.request('POST', '/v1/secrets/token/rotate', { body: { value: 'rotated-on-b' } }), 200);
    expect((await run()).output).toEqual({ sha256: sha256('rotated-on-b') });
    expect(expectStatus(await a.request('GET', '/v1/secrets/token'), 200).currentVersion).toBe(2);

    expect(expectStatus(await a.request('POST', '/v1/tenant-keys/destroy', { body: { confirm: 'default' } }), 200)).toEqual({ destroyedKeys: 1 });
    expect(await run()).toMatchObject({ status: 'failed', error: { code: 'secret_destroyed' } });
    expect(expectStatus(await b.request('GET', '/v1/secrets/token'), 200).readable).toBe(false);
    expectStatus(await b.request('PUT', '/v1/secrets/token', { body: { value: 'after-shredding', policy: { capabilities: ['fetch'] } } }), 200);
    expect((await run()).output).toEqual({ sha256: sha256('after-shredding') });

    // A third instance with a master key of its own (a development key in its data directory) cannot use the tenant's key.
    const stranger = await startHarness(env);
    harnesses.push(stranger);
    const refused = expectProblem(await stranger.request('PUT', '/v1/secrets/other', { body: { value: 'x', policy: { capabilities: ['*'] } } }), 503, 'unavailable');
    expect(refused.detail).toMatch(/which this instance does not have: give every instance the same AGENTMESH_MASTER_KEY/u);
    // Its audit log still records everything: the callers' personal data is sealed under a key it can open.
    expectStatus(await stranger.request('POST', '/v1/tasks', { body: { capability: 'fetch', input: {} } }), 202);
    const seen = expectStatus(await stranger.request('GET', '/v1/audit?limit=100'), 200).items as Array<Record<string, unknown>>;
    expect(seen.some((e) => e.personalUnavailable === true && e.sourceIp === undefined)).toBe(true);
    expect(seen.some((e) => e.action === 'TASK_SUBMITTED' && e.sourceIp === '127.0.0.1')).toBe(true);
  });
});
