// The cache's figures, each against a baseline measured in the same run: an L1 hit against a bare
// Map lookup (tinybench); hit rates under a realistic mix of reads and invalidations; and the
// reads that go through the cache (API keys, tenants, agent rosters) on PostgreSQL + Redis with
// the cache against the same reads straight from the store.
import { Bench } from 'tinybench';
import { LRUCache } from 'lru-cache';
import { apiKeyCacheKey, cacheKey } from '../dist/application/cache-keys.js';
import { newApiKeySecret, hashApiKey } from '../dist/application/api-key-secrets.js';
import { createTenant, registerAgent } from '../dist/domain/index.js';
import { CachedAgentRepository } from '../dist/infrastructure/caching/cached-agent-repository.js';
import { CachedTenantRepository } from '../dist/infrastructure/caching/cached-tenant-repository.js';
import { inMemoryCache, redisTwoTierCache } from '../dist/infrastructure/caching/caches.js';
import { RedisConnection } from '../dist/infrastructure/caching/redis-client.js';
import { DEFAULT_CACHE_SETTINGS } from '../dist/infrastructure/caching/tiered-cache.js';
import { openPostgresStore } from '../dist/infrastructure/persistence/postgres-store.js';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { REDIS_URL } from './cluster.mjs';
import { withScratchDatabase } from './postgres-scratch.mjs';
import { measurePeak } from './e2e-threads.mjs';

const micros = (task) => task.result.latency.mean * 1000;

/** µs per call: a bare Map get, a bare lru-cache get, and the cache's L1 hit (key built once, and built per call). */
export async function measureHitCost() {
  const cache = await inMemoryCache(DEFAULT_CACHE_SETTINGS);
  const key = cacheKey('acme', 'agent', 'cap:summarize');
  const value = { agents: [{ id: 'a1' }] };
  await cache.getOrLoad(key, async () => value);
  const map = new Map([[key.encoded, value]]);
  const lru = new LRUCache({ max: 10_000 });
  lru.set(key.encoded, value);
  const load = async () => value;
  const bench = new Bench({ time: 500 });
  bench.add('map', () => map.get(key.encoded));
  bench.add('lru', () => lru.get(key.encoded));
  bench.add('hit', () => cache.getOrLoad(key, load));
  bench.add('hit, key built', () => cache.getOrLoad(cacheKey('acme', 'agent', 'cap:summarize'), load));
  await bench.run();
  await cache.close();
  const byName = Object.fromEntries(bench.tasks.map((t) => [t.name, micros(t)]));
  return { map: byName.map, lru: byName.lru, hit: byName.hit, hitWithKey: byName['hit, key built'] };
}

/** A Zipf-like pick of 0..n-1 (rank r with weight 1/(r+1)^s): a few hot keys, a long tail. */
function zipf(n, s, random) {
  const weights = Array.from({ length: n }, (_, r) => 1 / (r + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative = [];
  let sum = 0;
  for (const w of weights) cumulative.push((sum += w / total));
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** A seeded PRNG (mulberry32), so that every run reads the same sequence. */
function seeded(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const MIX = { tenants: 200, keysPerTenant: 5, capabilitiesPerTenant: 8, agentChangeEvery: 200 };

/**
 * The operations of a mesh's read path, in the proportions of its requests: each request
 * authenticates (an API key), a submit or a registration reads its tenant, a discovery lists the
 * agents of a capability; an agent's lifecycle change (1 in `agentChangeEvery`) drops its rosters.
 * Tenants are Zipf-distributed (a few busy ones, a long tail), keys and capabilities within them too.
 */
export function* readMix(count, mix = MIX) {
  const random = seeded(42);
  const tenant = zipf(mix.tenants, 1.1, random);
  const keyOf = zipf(mix.keysPerTenant, 1, random);
  const capabilityOf = zipf(mix.capabilitiesPerTenant, 1, random);
  for (let i = 0; i < count; i++) {
    const t = tenant();
    const capability = capabilityOf();
    if (i % mix.agentChangeEvery === mix.agentChangeEvery - 1) {
      yield { op: 'agentChanged', tenant: t, capability };
      continue;
    }
    yield { op: 'auth', tenant: t, key: keyOf() };
    const u = random();
    if (u < 0.5) yield { op: 'tenant', tenant: t };
    else if (u < 0.8) yield { op: 'roster', tenant: t, capability };
  }
}

const tenantId = (t) => `tenant-${String(t).padStart(4, '0')}`;

/** Hit rates per kind of the L1 cache (bounded as configured by default, and at 500 entries) under the mix, loads answered at once. */
export async function measureHitRates({ operations }) {
  const result = {};
  for (const [label, maxEntries] of [['default bounds (10,000 entries)', 10_000], ['L1 bounded at 500 entries', 500]]) {
    const cache = await inMemoryCache({ ...DEFAULT_CACHE_SETTINGS, l1: { ...DEFAULT_CACHE_SETTINGS.l1, maxEntries } });
    for (const o of readMix(operations)) {
      const tenant = tenantId(o.tenant);
      if (o.op === 'auth') await cache.getOrLoad(apiKeyCacheKey(`hash-${tenant}-${o.key}`), async () => ({ tenant }));
      else if (o.op === 'tenant') await cache.getOrLoad(cacheKey(tenant, 'tenant_config', tenant), async () => ({ tenant }));
      else if (o.op === 'roster') await cache.getOrLoad(cacheKey(tenant, 'agent', `cap:c${o.capability}`), async () => ({ agents: [] }));
      else await cache.deleteMany([cacheKey(tenant, 'agent', 'all'), cacheKey(tenant, 'agent', `cap:c${o.capability}`)]);
    }
    const stats = cache.stats();
    const rate = (kind) => stats.hits.l1[kind] / (stats.hits.l1[kind] + stats.misses.l1[kind]);
    result[label] = { api_key: rate('api_key'), tenant_config: rate('tenant_config'), agent: rate('agent'), evictions: Object.values(stats.evictions).reduce((a, b) => a + b, 0) };
    await cache.close();
  }
  return result;
}

/** Tenants, keys and agents for the read benchmark: the mix's tenants, each with its keys and 3 agents per capability. */
async function seed(store) {
  const secrets = new Map();
  for (let t = 0; t < MIX.tenants; t++) {
    const tenant = tenantId(t);
    await store.tenants.create(createTenant({ id: tenant }, Date.now()));
    for (let k = 0; k < MIX.keysPerTenant; k++) {
      const { id, secret } = newApiKeySecret();
      await store.apiKeys.create({ id, tenantId: tenant, name: `key ${k}`, role: 'admin', platform: false, secretHash: hashApiKey(secret), createdAt: Date.now() });
      secrets.set(`${t}:${k}`, secret);
    }
    for (let a = 0; a < 3 * MIX.capabilitiesPerTenant; a++) {
      const capabilities = [{ name: `c${a % MIX.capabilitiesPerTenant}` }, { name: `c${(a + 3) % MIX.capabilitiesPerTenant}` }];
      const { agent, events } = registerAgent({ tenantId: tenant, id: `agent-${a}`, name: `agent ${a}`, capabilities }, Date.now());
      await store.agents.insert(agent, events);
    }
  }
  return secrets;
}

/** The mix's operations through `cache`, as the mesh makes them (the Authenticator's lookup, the cached repositories). */
function cachedReads(store, cache, secrets) {
  const tenants = new CachedTenantRepository(store.tenants, cache);
  const agents = new CachedAgentRepository(store.agents, cache);
  return {
    auth: (o) => {
      const hash = hashApiKey(secrets.get(`${o.tenant}:${o.key}`));
      return cache.getOrLoad(apiKeyCacheKey(hash), () => store.apiKeys.findBySecretHash(hash));
    },
    tenant: (o) => tenants.get(tenantId(o.tenant)),
    roster: (o) => agents.list(tenantId(o.tenant), { capability: `c${o.capability}` }, { limit: 50 }),
    agentChanged: (o) => cache.deleteMany([cacheKey(tenantId(o.tenant), 'agent', 'all'), cacheKey(tenantId(o.tenant), 'agent', `cap:c${o.capability}`)]),
  };
}

/**
 * Reads/s of the mix's reads (the same sequence, `concurrency` at a time): straight from
 * PostgreSQL, and through the two-tier cache (memory + Redis) on a cold cache, over `seconds`.
 * The agent changes of the mix invalidate through the cache (and cost nothing without it).
 */
export async function measureReadsOnPostgres({ url, seconds, concurrency = 32 }) {
  const store = await openPostgresStore(url, { exclusive: false, maxConnections: 10 });
  let connection;
  try {
    const secrets = await seed(store);
    const ops = [...readMix(200_000)];
    const run = async (read) => {
      let done = 0;
      let next = 0;
      const until = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < until) {
            await read(ops[next++ % ops.length]);
            done++;
          }
        }),
      );
      return done / ((performance.now() - started) / 1000);
    };
    const direct = {
      auth: (o) => store.apiKeys.findBySecretHash(hashApiKey(secrets.get(`${o.tenant}:${o.key}`))),
      tenant: (o) => store.tenants.get(tenantId(o.tenant)),
      roster: (o) => store.agents.list(tenantId(o.tenant), { capability: `c${o.capability}` }, { limit: 50 }),
      agentChanged: async () => {},
    };
    const withoutCache = await run((o) => direct[o.op](o));

    connection = await RedisConnection.connect(REDIS_URL, { keyPrefix: `bench-cache-${process.pid}` });
    const cache = await redisTwoTierCache(connection, DEFAULT_CACHE_SETTINGS);
    const cached = cachedReads(store, cache, secrets);
    const withCache = await run((o) => cached[o.op](o));
    const stats = cache.stats();
    const kinds = ['api_key', 'tenant_config', 'agent'];
    const sum = (counts) => kinds.reduce((a, k) => a + counts[k], 0);
    const l1HitRate = sum(stats.hits.l1) / (sum(stats.hits.l1) + sum(stats.misses.l1));
    // A second instance joining: its memory empty, Redis filled by the first; its first minute of reads.
    const second = await RedisConnection.connect(REDIS_URL, { keyPrefix: connection.keyPrefix });
    const joining = await redisTwoTierCache(second, DEFAULT_CACHE_SETTINGS);
    const joiningReads = cachedReads(store, joining, secrets);
    const secondInstance = await run((o) => joiningReads[o.op](o));
    const joined = joining.stats();
    await joining.close();
    await second.close();
    await cache.close();
    for await (const keys of connection.redis.scanStream({ match: `${connection.keyPrefix}:*`, count: 1000 })) if (keys.length > 0) await connection.redis.del(...keys);
    return { withoutCache, withCache, ratio: withCache / withoutCache, l1HitRate, secondInstance, secondL2Hits: sum(joined.hits.l2), secondLoads: sum(joined.misses.l2) };
  } finally {
    await connection?.close();
    await store.close();
  }
}

/** Prints the cache's figures with `line` and `f` (bench/run.mjs's), or its own when run alone: `node bench/cache.mjs`. */
export async function benchCache({ quick, line, f }) {
  const cost = await measureHitCost();
  console.log('\nCache: an L1 hit against a bare Map lookup (tinybench), hit rates under a realistic mix, the cached reads on PostgreSQL + Redis');
  line('  baseline: bare Map get, µs', f(cost.map, 3));
  line('  bare lru-cache get, µs', f(cost.lru, 3), `ratio to Map ${f(cost.lru / cost.map, 1)}`);
  line('  L1 hit (getOrLoad, key made once), µs', f(cost.hit, 3), `ratio to Map ${f(cost.hit / cost.map, 1)}`);
  line('  L1 hit, key made per call (cacheKey), µs', f(cost.hitWithKey, 3), `ratio to Map ${f(cost.hitWithKey / cost.map, 1)}`);
  const operations = quick ? 100_000 : 400_000;
  const rates = await measureHitRates({ operations });
  console.log(`  hit rates over ${f(operations)} operations (${MIX.tenants} tenants Zipf 1.1, ${MIX.keysPerTenant} keys and ${MIX.capabilitiesPerTenant} capabilities each; 1 agent change per ${MIX.agentChangeEvery})`);
  for (const [label, r] of Object.entries(rates)) {
    line(`    ${label}: api_key / tenant_config / agent`, `${f(r.api_key * 100, 1)} / ${f(r.tenant_config * 100, 1)} / ${f(r.agent * 100, 1)} %`, `evictions ${f(r.evictions)}`);
  }
  await withScratchDatabase(async (url) => {
    const reads = await measureReadsOnPostgres({ url, seconds: quick ? 3 : 8 });
    line('  baseline: the same reads from PostgreSQL, reads/s', f(reads.withoutCache), '32 at a time: API key by hash, tenant by id, agents by capability');
    line('  through the cache (memory + Redis), reads/s (goal >= 5x)', f(reads.withCache), `ratio ${f(reads.ratio, 1)}; cold start, L1 hit rate ${f(reads.l1HitRate * 100, 1)} % over the run`);
    line('  a second instance joining (memory empty, Redis warm), reads/s', f(reads.secondInstance), `ratio ${f(reads.secondInstance / reads.withoutCache, 1)}; ${f(reads.secondL2Hits)} Redis hits, ${f(reads.secondLoads)} store loads`);
  });
  const e2e = await measureEndToEnd({ total: quick ? 3000 : 10_000, rounds: quick ? 1 : 2 });
  if (e2e) {
    line('  end to end on PostgreSQL + Redis: baseline AGENTMESH_CACHE=off, tasks/s', f(e2e.off), `single requests (each authenticates); rounds alternate, best of ${e2e.rounds}`);
    line('  end to end with the cache, tasks/s', f(e2e.on), `ratio ${f(e2e.on / e2e.off, 2)}`);
  }
}

/**
 * Tasks/s end to end (submit, route, deliver, complete; the SDK's single requests, so that each
 * request authenticates) on PostgreSQL + Redis with the cache, and with AGENTMESH_CACHE=off, each
 * on a fresh scratch database; rounds alternate so the machine's drift falls on both.
 */
export async function measureEndToEnd({ total, rounds }) {
  const best = { on: 0, off: 0 };
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['off', 'on']) {
      const prefix = `bench-cache-${process.pid}-${round}-${mode}`;
      const result = await withScratchDatabase((url) =>
        measurePeak({ total, batching: false, env: { AGENTMESH_DATABASE_URL: url, AGENTMESH_REDIS_URL: REDIS_URL, AGENTMESH_REDIS_PREFIX: prefix, AGENTMESH_CACHE: mode } }),
      );
      const redis = new Redis(REDIS_URL);
      for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      if (!result) return undefined;
      best[mode] = Math.max(best[mode], result.tasksPerSecond);
    }
  }
  return { ...best, rounds };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const f = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const line = (label, value, note = '') => console.log(`${label.padEnd(48)} ${String(value).padStart(14)}  ${note}`);
  await benchCache({ quick: process.argv.includes('--quick'), line, f });
  process.exit(0);
}
