import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';
import { deleteNamespaceStreams, natsUrl, newNamespace } from '../../support/nats.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';
import { deleteKeyPrefixes, newKeyPrefix, redisUrl } from '../../support/redis.js';

/** How long a key revoked on one instance may keep working on another (the cache's bus over Redis pub/sub). */
const REVOCATION_BOUND_MS = 1_000;

const namespaces: string[] = [];
const prefixes: string[] = [];
afterAll(async () => {
  await deleteNamespaceStreams(namespaces);
  await deleteKeyPrefixes(prefixes);
});

/** Two instances in this process on one PostgreSQL, one NATS namespace and one Redis prefix: API keys and tenants cached in both tiers. */
describe.skipIf(natsUrl === null || postgresUrl === null || redisUrl === null)('API keys through the two-tier cache, on two instances', () => {
  let db: TestDatabase;
  let a: Harness;
  let b: Harness;
  let prefix: string;

  beforeEach(async () => {
    db = await createTestDatabase();
    const namespace = newNamespace();
    prefix = newKeyPrefix();
    namespaces.push(namespace);
    prefixes.push(prefix);
    const env = { AGENTMESH_DATABASE_URL: db.url, AGENTMESH_NATS_URL: natsUrl!, AGENTMESH_NATS_NAMESPACE: namespace, AGENTMESH_REDIS_URL: redisUrl!, AGENTMESH_REDIS_PREFIX: prefix };
    a = await startHarness(env);
    b = await startHarness(env);
  });
  afterEach(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db.drop();
  });

  /** Milliseconds until `key` is refused on `h`; fails past the bound. */
  const refusedWithin = async (h: Harness, key: string): Promise<number> => {
    const start = Date.now();
    for (;;) {
      if ((await h.request('GET', '/v1/agents', { key })).status === 401) return Date.now() - start;
      expect(Date.now() - start, 'the key to be refused').toBeLessThan(REVOCATION_BOUND_MS);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('a key revoked on one instance is refused there at once, and on the other within the bound', async () => {
    const { id, key } = await createApiKey(a, 'observer', undefined, 'revoked soon');
    for (const h of [a, b, a, b]) expect((await h.request('GET', '/v1/agents', { key })).status).toBe(200);
    // Both instances answered the key from memory the second time, and B found A's entry in Redis the first time.
    expect(a.running.cache.stats().hits.l1.api_key).toBeGreaterThan(0);
    expect(b.running.cache.stats().hits.l1.api_key).toBeGreaterThan(0);
    expect(b.running.cache.stats().hits.l2.api_key).toBeGreaterThan(0);

    expect((await a.request('DELETE', `/v1/api-keys/${id}`)).status).toBe(204);
    expect((await a.request('GET', '/v1/agents', { key })).status).toBe(401);
    const ms = await refusedWithin(b, key);
    expect(ms).toBeLessThan(REVOCATION_BOUND_MS);
  });

  it('a rotated key: the old secret is refused at once where it was rotated and within the bound elsewhere; the new one works on both', async () => {
    const { id, key: old } = await createApiKey(b, 'observer', undefined, 'rotated soon');
    for (const h of [a, b, a, b]) expect((await h.request('GET', '/v1/agents', { key: old })).status).toBe(200);
    const rotated = await b.request('POST', `/v1/api-keys/${id}/rotate`);
    expect(rotated.status).toBe(200);
    expect((await b.request('GET', '/v1/agents', { key: old })).status).toBe(401);
    await refusedWithin(a, old);
    for (const h of [a, b]) expect((await h.request('GET', '/v1/agents', { key: rotated.body.key })).status).toBe(200);
  });

  it("keeps the entries in Redis under the mesh's prefix: keys by the hash of their secret, tenants under their tenant", async () => {
    const { key } = await createApiKey(a, 'admin', undefined, 'reader');
    expect((await a.request('GET', '/v1/tenants/default', { key })).status).toBe(200);
    // Reads run where they are asked: B finds the tenant A cached in Redis.
    expect((await b.request('GET', '/v1/tenants/default', { key })).status).toBe(200);
    const redis = new Redis(redisUrl!);
    try {
      const keys = await redis.keys(`${prefix}:cache:*`);
      expect(keys.some((k) => k.startsWith(`${prefix}:cache:{%23keys}:api_key:`))).toBe(true);
      expect(keys).toContain(`${prefix}:cache:{default}:tenant_config:default`);
    } finally {
      await redis.quit();
    }
    expect(b.running.cache.stats().hits.l2.tenant_config).toBeGreaterThan(0);
  });
});
