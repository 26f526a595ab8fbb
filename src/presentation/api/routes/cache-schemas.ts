import { Type } from 'typebox';

const Tiers = Type.Object({ l1: Type.Integer(), l2: Type.Integer() });
const Rate = Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], { description: 'hits / (hits + misses) over the window; null: no read in it' });

const KindStats = Type.Object({
  ttlSeconds: Type.Integer(),
  hits: Type.Optional(Tiers),
  misses: Type.Optional(Type.Object({ l1: Type.Integer(), l2: Type.Integer() }, { description: 'An l1 miss goes to l2 when there is one, then to the store' })),
  hitRate: Type.Optional(Type.Object({ l1: Rate, l2: Rate })),
  evictions: Type.Optional(Type.Integer({ description: 'Entries L1 dropped to stay within its bounds' })),
  staleServed: Type.Optional(
    Type.Object(
      { revalidating: Type.Integer(), store_unavailable: Type.Integer() },
      { description: 'Reads answered by an entry past its TTL within its grace period: while a refresh ran, or after it failed' },
    ),
  ),
});

export const CacheStatsReport = Type.Object(
  {
    scope: Type.Union([Type.Literal('instance'), Type.Literal('tenant')], {
      description: "instance: every tenant's reads on this instance (the platform admin key); tenant: the setup and the caller's tenant's entries only",
    }),
    tiers: Type.Array(Type.Union([Type.Literal('l1'), Type.Literal('l2')])),
    hitRateWindowSeconds: Type.Optional(Type.Integer()),
    kinds: Type.Object({ agent: KindStats, message: KindStats, tenant_config: KindStats, api_key: KindStats, skill_result: KindStats }),
    l1: Type.Object({
      entries: Type.Integer({ description: "In scope tenant, the caller's tenant's entries" }),
      bytes: Type.Integer({ description: 'As the JSON length of the values' }),
      maxEntries: Type.Integer(),
      maxBytes: Type.Integer(),
    }),
    l2Errors: Type.Optional(Type.Integer({ description: 'Redis reads, writes and invalidations that failed' })),
    loadWaits: Type.Optional(
      Type.Object({ filled: Type.Integer(), timed_out: Type.Integer() }, { description: "Misses that waited for another instance's load of the key" }),
    ),
  },
  { description: "This instance's cache (counts since it started)" },
);

export const WarmCacheBody = Type.Object(
  {
    tenantId: Type.Optional(
      Type.String({ minLength: 3, maxLength: 256, pattern: '^[A-Za-z0-9._:-]+$', description: "One tenant (the platform admin key); a tenant's admin warms its own tenant whatever it names" }),
    ),
  },
  { additionalProperties: false, description: 'No body, or {}: every tenant (the platform admin key), or the caller’s tenant' },
);

export const WarmReport = Type.Object({
  scope: Type.String({ description: "'all', or the tenant warmed" }),
  tenants: Type.Integer({ description: 'Tenant configurations read through the cache' }),
  rosters: Type.Integer({ description: 'Agent rosters read through the cache (all agents, and one per capability of a live agent)' }),
  durationMs: Type.Integer(),
  truncated: Type.Boolean({ description: "Stopped at L1's bound on entries (AGENTMESH_CACHE_MAX_ENTRIES)" }),
});
