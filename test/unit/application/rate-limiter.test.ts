import { describe, expect, it } from 'vitest';
import { RateLimiter, secondsUntilRoom } from '../../../src/application/rate-limiter.js';
import { QuotaExceededError } from '../../../src/domain/index.js';
import { InMemoryCounters } from '../../../src/infrastructure/caching/in-memory-counters.js';

const caller = (keyId: string, tenantId = 'acme') => ({ keyId, tenantId, role: 'orchestrator' as const, platform: false });

describe('RateLimiter', () => {
  it('admits up to the key limit in a minute, then refuses with the time until the oldest request leaves the window', async () => {
    const limiter = new RateLimiter(new InMemoryCounters(), { perKey: 3, perTenant: 0 });
    const start = 1_000_000_000_000;
    expect(await limiter.admit(caller('k1'), start)).toMatchObject({ limit: 3, remaining: 2, resetSeconds: 60, policies: ['3;w=60'] });
    expect(await limiter.admit(caller('k1'), start + 10_000)).toMatchObject({ remaining: 1, resetSeconds: 50 });
    expect(await limiter.admit(caller('k1'), start + 20_000)).toMatchObject({ remaining: 0, resetSeconds: 40 });
    const refused = await limiter.admit(caller('k1'), start + 30_000).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QuotaExceededError);
    // Four counted (the refused one too): room for one more once the first two have left, at start + 70 s.
    expect((refused as QuotaExceededError).details).toMatchObject({ quota: 'requestsPerMinutePerKey', limit: 3, retryAfterSeconds: 40 });
    // Another key of the tenant has its own allowance.
    expect(await limiter.admit(caller('k2'), start + 30_000)).toMatchObject({ remaining: 2 });
    // A minute after the first, it has left the window; the refused one still counts until it leaves too.
    await expect(limiter.admit(caller('k1'), start + 61_000)).rejects.toBeInstanceOf(QuotaExceededError);
    expect(await limiter.admit(caller('k1'), start + 91_000)).toMatchObject({ limit: 3 });
  });

  it("refuses past the tenant's limit across its keys, and leaves other tenants alone", async () => {
    const limiter = new RateLimiter(new InMemoryCounters(), { perKey: 100, perTenant: 4 });
    const now = 1_000_000_000_000;
    for (let i = 0; i < 4; i++) await limiter.admit(caller(`k${i}`), now);
    await expect(limiter.admit(caller('k9'), now)).rejects.toMatchObject({ details: { quota: 'requestsPerMinutePerTenant', limit: 4 } });
    expect(await limiter.admit(caller('k1', 'globex'), now)).toMatchObject({ limit: 4, remaining: 3, policies: ['100;w=60', '4;w=60'] });
  });

  it('does nothing when both limits are off, except for a key with a limit of its own', async () => {
    const limiter = new RateLimiter(new InMemoryCounters(), { perKey: 0, perTenant: 0 });
    expect(await limiter.admit(caller('k1'), 0)).toBeUndefined();
    const tiered = { ...caller('k2'), rateLimitPerMinute: 10 };
    expect(await limiter.admit(tiered, 0)).toMatchObject({ limit: 10, remaining: 9, policies: ['10;w=60'] });
  });

  it("counts a key with its own limit (a tier) against that limit instead of the default, beside the tenant's", async () => {
    const limiter = new RateLimiter(new InMemoryCounters(), { perKey: 1000, perTenant: 50 });
    const now = 1_000_000_000_000;
    const basic = { ...caller('basic'), rateLimitPerMinute: 10 };
    for (let i = 0; i < 10; i++) await limiter.admit(basic, now);
    await expect(limiter.admit(basic, now)).rejects.toMatchObject({ details: { quota: 'requestsPerMinutePerKey', limit: 10 } });
    // A generous tier is still bound by the tenant's limit (11 counted so far).
    const enterprise = { ...caller('enterprise'), rateLimitPerMinute: 10_000 };
    expect(await limiter.admit(enterprise, now)).toMatchObject({ limit: 50, remaining: 38, policies: ['10000;w=60', '50;w=60'] });
  });

  it('computes the wait from the buckets that must leave the window', () => {
    const buckets = Array<number>(60).fill(0);
    buckets[0] = 2;
    buckets[30] = 5;
    const window = { total: 7, buckets, bucketMs: 1000, current: 1000 };
    const now = 1_000_500;
    // Room for 1 under a limit of 7: the first bucket leaves at (1000 + 0 + 1) s.
    expect(secondsUntilRoom(window, 7, 1, now)).toBe(1);
    // Room for 3 under 7: the buckets up to the 31st must leave.
    expect(secondsUntilRoom(window, 7, 3, now)).toBe(31);
    expect(secondsUntilRoom(window, 10, 1, now)).toBe(0);
  });
});
