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

describe('per-key rate limits (tiers)', () => {
  let h: Harness;
  let tenant: { key: string; keyId: string };
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_RATE_LIMIT_PER_KEY: '1000' });
    tenant = await createTenant(h, 'tiers');
  }, 60_000);
  afterAll(async () => h?.close());

  it("holds a key to its own limit, changed or cleared at once with PATCH, and audited", async () => {
    const created = expectStatus(await h.request('POST', '/v1/api-keys', { key: tenant.key, body: { name: 'basic tier', role: 'observer', rateLimitPerMinute: 10 } }), 201);
    expect(created.rateLimitPerMinute).toBe(10);
    for (let i = 0; i < 10; i++) expect(expectStatus(await h.request('GET', '/v1/tasks', { key: created.key }), 200) && true).toBe(true);
    const refused = expectProblem(await h.request('GET', '/v1/tasks', { key: created.key }), 429, 'quota_exceeded');
    expect(refused).toMatchObject({ quota: 'requestsPerMinutePerKey', limit: 10 });

    // Raised: the next request is counted against the new limit (the 11 already counted stay).
    const raised = expectStatus(await h.request('PATCH', `/v1/api-keys/${created.id}`, { key: tenant.key, body: { rateLimitPerMinute: 100 } }), 200);
    expect(raised).toMatchObject({ id: created.id, role: 'observer', rateLimitPerMinute: 100 });
    const after = await h.request('GET', '/v1/tasks', { key: created.key });
    expectStatus(after, 200);
    expect(after.headers.get('ratelimit-limit')).toBe('100');
    expect(after.headers.get('ratelimit-remaining')).toBe('88');

    // Cleared: back to the instance's default.
    const cleared = expectStatus(await h.request('PATCH', `/v1/api-keys/${created.id}`, { key: tenant.key, body: { rateLimitPerMinute: null } }), 200);
    expect(cleared.rateLimitPerMinute).toBeUndefined();
    expect((await h.request('GET', '/v1/tasks', { key: created.key })).headers.get('ratelimit-limit')).toBe('1000');
    const listed = expectStatus(await h.request('GET', '/v1/api-keys', { key: tenant.key }), 200).items.find((k: { id: string }) => k.id === created.id);
    expect(listed.rateLimitPerMinute).toBeUndefined();

    const audited = expectStatus(await h.request('GET', `/v1/audit?action=CONFIG_CHANGED&resourceId=${created.id}`, { key: tenant.key }), 200).items;
    expect(audited.map((e: { details: { rateLimitPerMinute: unknown } }) => e.details.rateLimitPerMinute)).toEqual(expect.arrayContaining([100, null]));
  });

  it("counts a keyed request to the A2A card against the key's limit too (the card with a key reads the tenant's agents)", async () => {
    const key = expectStatus(await h.request('POST', '/v1/api-keys', { key: tenant.key, body: { name: 'card reader', role: 'observer', rateLimitPerMinute: 2 } }), 201);
    const card = () => fetch(`${h.url}/.well-known/agent-card.json`, { headers: { authorization: `Bearer ${key.key}` } });
    const first = await card();
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('2');
    expect((await card()).status).toBe(200);
    expect((await card()).status).toBe(429);
    // Without a key, the public card is not counted.
    expect((await fetch(`${h.url}/.well-known/agent-card.json`)).status).toBe(200);
  });

  it('refuses a limit that is not a whole number from 1 to 100,000,000, a role that may not, and a key of another tenant', async () => {
    const key = await createApiKey(h, 'orchestrator', tenant.key, 'to change');
    for (const bad of [0, -5, 1.5, 'ten', 100_000_001, {}]) {
      const problem = expectProblem(await h.request('PATCH', `/v1/api-keys/${key.id}`, { key: tenant.key, body: { rateLimitPerMinute: bad } }), 400, 'validation');
      expect(problem.detail).toMatch(/rateLimitPerMinute/);
    }
    expectProblem(await h.request('PATCH', `/v1/api-keys/${key.id}`, { key: tenant.key, body: {} }), 400, 'validation');
    expectProblem(await h.request('PATCH', `/v1/api-keys/${key.id}`, { key: tenant.key, body: { rateLimitPerMinute: 10, role: 'admin' } }), 400, 'validation');
    expectProblem(await h.request('POST', '/v1/api-keys', { key: tenant.key, body: { name: 'x', role: 'observer', rateLimitPerMinute: 0 } }), 400, 'validation');
    expectProblem(await h.request('PATCH', `/v1/api-keys/${key.id}`, { key: key.key, body: { rateLimitPerMinute: 10_000 } }), 403, 'forbidden');
    const other = await createTenant(h, 'tiers-other');
    expectProblem(await h.request('PATCH', `/v1/api-keys/${key.id}`, { key: other.key, body: { rateLimitPerMinute: 10 } }), 404, 'not_found');
    expectProblem(await h.request('PATCH', '/v1/api-keys/no-such-key', { key: tenant.key, body: { rateLimitPerMinute: 10 } }), 404, 'not_found');
    // Above the instance's per-key limit (1000 here) only the platform admin may go.
    const above = expectProblem(await h.request('PATCH', `/v1/api-keys/${key.id}`, { key: tenant.key, body: { rateLimitPerMinute: 1001 } }), 403, 'forbidden');
    expect(above.detail).toMatch(/at most the instance's per-key limit \(1000 per minute\)/);
    expectProblem(await h.request('POST', '/v1/api-keys', { key: tenant.key, body: { name: 'greedy', role: 'observer', rateLimitPerMinute: 5000 } }), 403, 'forbidden');
    expect(expectStatus(await h.request('POST', '/v1/api-keys', { body: { name: 'platform tier', role: 'observer', rateLimitPerMinute: 5000 } }), 201).rateLimitPerMinute).toBe(5000);
    // The platform key takes no limit of its own: throttled, it could lock its holder out, as it can be neither rotated nor revoked through the API.
    const platform = expectStatus(await h.request('GET', '/v1/api-keys'), 200).items.find((k: { name: string }) => k.name.startsWith('bootstrap admin'));
    expect(expectProblem(await h.request('PATCH', `/v1/api-keys/${platform.id}`, { body: { rateLimitPerMinute: 5 } }), 403, 'forbidden').detail).toMatch(/platform admin key/);
    expect(expectStatus(await h.request('GET', '/v1/api-keys'), 200).items.find((k: { id: string }) => k.id === platform.id).rateLimitPerMinute).toBeUndefined();
    // Clearing is allowed: a limit set before this rule can be taken off.
    expect(expectStatus(await h.request('PATCH', `/v1/api-keys/${platform.id}`, { body: { rateLimitPerMinute: null } }), 200).rateLimitPerMinute).toBeUndefined();
    // Nothing changed by any of them.
    const listed = expectStatus(await h.request('GET', '/v1/api-keys', { key: tenant.key }), 200).items.find((k: { id: string }) => k.id === key.id);
    expect(listed.rateLimitPerMinute).toBeUndefined();
  });
});

describe('failed authentications per address', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_AUTH_FAILURES_PER_ADDRESS: '3', AGENTMESH_TRUST_PROXY: '127.0.0.1' });
  }, 60_000);
  afterAll(async () => h?.close());
  const fromClient = (address: string, key: string | null) => h.request('GET', '/v1/tasks', { key, headers: { 'x-forwarded-for': address } });

  it('refuses an address past its failures (429, before any key is looked up, unaudited), and no other address', async () => {
    for (let i = 0; i < 4; i++) expectProblem(await fromClient('203.0.113.7', `am_guess${i}.wrong`), 401, 'unauthorized');
    // Over the limit: even a good key from that address is refused now.
    const refused = await fromClient('203.0.113.7', h.adminKey);
    const problem = expectProblem(refused, 429, 'quota_exceeded');
    expect(problem).toMatchObject({ quota: 'authFailuresPerMinutePerAddress', limit: 3 });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expectProblem(await fromClient('203.0.113.7', null), 429, 'quota_exceeded');
    // Another address, and the probes, are untouched.
    expectStatus(await fromClient('198.51.100.9', h.adminKey), 200);
    expect((await h.request('GET', '/health/live', { key: null, headers: { 'x-forwarded-for': '203.0.113.7' } })).status).toBe(200);

    // The four failures are audited with the client's address (trusted proxy); the refusals are not.
    const failures = expectStatus(await h.request('GET', '/v1/audit?action=AUTH_FAILURE&limit=100', { headers: { 'x-forwarded-for': '198.51.100.9' } }), 200).items;
    expect(failures.filter((e: { sourceIp?: string }) => e.sourceIp === '203.0.113.7')).toHaveLength(4);
    const metrics = await (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.adminKey}`, 'x-forwarded-for': '198.51.100.9' } })).text();
    expect(metrics).toMatch(/agentmesh_auth_addresses_blocked_total 1\b/u);
    expect(metrics).toMatch(/agentmesh_rate_limited_total\{tenant="default",scope="address"\} 2\b/u);
    expect(metrics).toMatch(/agentmesh_auth_blocked_addresses 1\b/u);
    // The routes that take a key outside /v1 are under the same limit.
    expect((await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.adminKey}`, 'x-forwarded-for': '203.0.113.7' } })).status).toBe(429);
  });

  it('refuses a burst of attempts at once past the limit: only the limit plus one are tried', async () => {
    await expectBurstHeldToLimit(h, '203.0.113.99');
  });

  it('counts and refuses failed keys on the routes outside /v1 that take one (the A2A card, the detailed health)', async () => {
    const card = (key: string) => fetch(`${h.url}/.well-known/agent-card.json`, { headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': '192.0.2.44' } });
    for (let i = 0; i < 2; i++) expect((await card(`am_card${i}.wrong`)).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await fetch(`${h.url}/health`, { headers: { authorization: 'Bearer am_health.wrong', 'x-forwarded-for': '192.0.2.44' } })).status).toBe(401);
    const refused = await card(h.adminKey);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    // Without a key the card stays public.
    expect((await fetch(`${h.url}/.well-known/agent-card.json`, { headers: { 'x-forwarded-for': '192.0.2.44' } })).status).toBe(200);
  });
});

describe.skipIf(redisUrl === null)('failed authentications per address, counted in Redis', () => {
  const prefix = newKeyPrefix();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_REDIS_URL: redisUrl!, AGENTMESH_REDIS_PREFIX: prefix, AGENTMESH_AUTH_FAILURES_PER_ADDRESS: '3', AGENTMESH_TRUST_PROXY: '127.0.0.1' });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    const redis = new Redis(redisUrl!);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });
  const fromClient = (address: string, key: string) => h.request('GET', '/v1/tasks', { key, headers: { 'x-forwarded-for': address } });

  it('holds a burst of wrong keys at once to the limit, though each lookup and count goes to Redis', async () => {
    await expectBurstHeldToLimit(h, '203.0.113.98');
  });

  it('lets a busy client send one good key on many connections at once while it is first looked up', async () => {
    const { key } = await createApiKey(h, 'observer', undefined, 'busy observer');
    const burst = await Promise.all(Array.from({ length: 30 }, () => fromClient('203.0.113.97', key)));
    expect(burst.map((r) => r.status)).toEqual(Array(30).fill(200));
  });

  it('asks keys refused only for those under way beside them to come back in a second', async () => {
    expectProblem(await fromClient('203.0.113.96', 'am_once.wrong'), 401, 'unauthorized');
    // Twelve good keys at once, each looked up in Redis: only three fit beside the failure, so some are refused whatever the timing.
    const keys = await Promise.all(Array.from({ length: 12 }, (_, i) => createApiKey(h, 'observer', undefined, `fresh ${i}`)));
    const burst = await Promise.all(keys.map(({ key }) => fromClient('203.0.113.96', key)));
    const refused = burst.filter((r) => r.status === 429);
    expect(refused.length, burst.map((r) => r.status).join(' ')).toBeGreaterThan(0);
    for (const r of refused) expect(r.headers.get('retry-after')).toBe('1');
    // And they may: the one failure leaves room.
    expectStatus(await fromClient('203.0.113.96', keys[11]!.key), 200);
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

/**
 * 24 wrong keys at once from one address, under a limit of 3 failures a minute: at most the limit
 * plus one are looked up (401, audited), the rest are refused before (429, unaudited).
 */
async function expectBurstHeldToLimit(h: Harness, address: string): Promise<void> {
  const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => h.request('GET', '/v1/tasks', { key: `am_burst${i}.wrong`, headers: { 'x-forwarded-for': address } })));
  const statuses = burst.map((r) => r.status);
  const tried = statuses.filter((s) => s === 401).length;
  expect(tried, statuses.join(' ')).toBeGreaterThanOrEqual(1);
  expect(tried, statuses.join(' ')).toBeLessThanOrEqual(4);
  expect(statuses.filter((s) => s === 429)).toHaveLength(24 - tried);
  const refused = burst.find((r) => r.status === 429)!;
  expect(expectProblem(refused, 429, 'quota_exceeded')).toMatchObject({ quota: 'authFailuresPerMinutePerAddress', limit: 3 });
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const other = { 'x-forwarded-for': '198.51.100.9' };
  const failures = expectStatus(await h.request('GET', '/v1/audit?action=AUTH_FAILURE&limit=100', { headers: other }), 200).items;
  expect(failures.filter((e: { sourceIp?: string }) => e.sourceIp === address)).toHaveLength(tried);
  const metrics = await (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.adminKey}`, ...other } })).text();
  expect(metrics).toMatch(/agentmesh_auth_addresses_in_flight 0\b/u);
}
