import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';
import { newKeyPrefix, redisUrl } from '../../support/redis.js';

describe('rate limits per API key and per tenant', () => {
  let h: Harness;
  let acme: { key: string; keyId: string };
  let orchestrator: { id: string; key: string };
  let observer: { id: string; key: string };
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_RATE_LIMIT_PER_KEY: '5', AGENTMESH_RATE_LIMIT_PER_TENANT: '9' });
    acme = await createTenant(h, 'acme');
    orchestrator = await createApiKey(h, 'orchestrator', acme.key, 'busy');
    observer = await createApiKey(h, 'observer', acme.key, 'other');
  }, 60_000);
  afterAll(async () => h?.close());

  it("answers with the RateLimit headers, then 429 problem+json with Retry-After past the key's limit, unaudited", async () => {
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await h.request('GET', '/v1/tasks', { key: orchestrator.key });
      expectStatus(res, 200);
      expect(res.headers.get('ratelimit-limit')).toBe('5');
      expect(res.headers.get('ratelimit-policy')).toBe('5;w=60, 9;w=60');
      expect(Number(res.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
      remaining.push(res.headers.get('ratelimit-remaining')!);
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);
    const refused = await h.request('POST', '/v1/tasks', { key: orchestrator.key, body: { capability: 'x' } });
    const problem = expectProblem(refused, 429, 'quota_exceeded');
    expect(problem).toMatchObject({ quota: 'requestsPerMinutePerKey', limit: 5 });
    expect(problem.detail).toBe('this API key made more than 5 requests in the last minute');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    // Nothing was submitted, and the refusal left no audit entry (a flood of them must not fill the log).
    const audited = expectStatus(await h.request('GET', `/v1/audit?actorKeyId=${orchestrator.id}&action=TASK_SUBMITTED`, { key: acme.key }), 200).items;
    expect(audited).toEqual([]);
  });

  it("refuses past the tenant's limit whichever of its keys asks, and leaves other tenants alone", async () => {
    // The tenant has used its 9: two key creations, five reads, the refused submit (counted too), the audit read.
    const refused = expectProblem(await h.request('GET', '/v1/tasks', { key: observer.key }), 429, 'quota_exceeded');
    expect(refused).toMatchObject({ quota: 'requestsPerMinutePerTenant', limit: 9 });
    const globex = await createTenant(h, 'globex');
    expectStatus(await h.request('GET', '/v1/tasks', { key: globex.key }), 200);
    const metrics = await (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.adminKey}` } })).text();
    expect(metrics).toMatch(/agentmesh_rate_limited_total\{tenant="acme",scope="key"\} [1-9]/u);
    expect(metrics).toMatch(/agentmesh_rate_limited_total\{tenant="acme",scope="tenant"\} [1-9]/u);
  });

  it('never limits the probes, the metrics, or the documents', async () => {
    for (let i = 0; i < 12; i++) expect((await h.request('GET', '/health/live', { key: null })).status).toBe(200);
    expect((await fetch(`${h.url}/openapi.json`)).status).toBe(200);
  });
});

describe.skipIf(redisUrl === null)('rate limits counted in Redis across instances', () => {
  const prefix = newKeyPrefix();
  const harnesses: Harness[] = [];
  afterAll(async () => {
    await Promise.all(harnesses.map((x) => x.close()));
    const redis = new Redis(redisUrl!);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('adds up what one key does on two instances', async () => {
    const env = { AGENTMESH_REDIS_URL: redisUrl!, AGENTMESH_REDIS_PREFIX: prefix, AGENTMESH_RATE_LIMIT_PER_KEY: '6' };
    const a = await startHarness(env);
    harnesses.push(a);
    const b = await startHarness(env);
    harnesses.push(b);
    // The platform key is the same on both (AGENTMESH_ADMIN_KEY), and so is its id.
    for (let i = 0; i < 3; i++) {
      expectStatus(await a.request('GET', '/v1/tasks'), 200);
      expectStatus(await b.request('GET', '/v1/tasks'), 200);
    }
    expectProblem(await a.request('GET', '/v1/tasks'), 429, 'quota_exceeded');
    expectProblem(await b.request('GET', '/v1/tasks'), 429, 'quota_exceeded');
  });
});
