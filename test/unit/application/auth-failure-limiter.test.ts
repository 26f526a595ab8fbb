import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter, clientOf, MAX_ADDRESSES_IN_FLIGHT, MAX_BLOCKED_ADDRESSES } from '../../../src/application/auth-failure-limiter.js';
import { QuotaExceededError } from '../../../src/domain/index.js';
import { InMemoryCounters } from '../../../src/infrastructure/caching/in-memory-counters.js';

const start = 1_000_000_000_000;

/** One authentication begun and ended (its key found good). */
function attempt(limiter: AuthFailureLimiter, address: string, now: number, key = 'good'): void {
  limiter.end(limiter.begin(address, key, now), key);
}

describe('AuthFailureLimiter', () => {
  it('refuses an address once it failed more than the limit in a minute, until the minute has room, and no other address', async () => {
    const limiter = new AuthFailureLimiter(new InMemoryCounters(), 3);
    for (let i = 0; i < 3; i++) expect(await limiter.failed('10.0.0.1', start + i * 1000)).toBe(false);
    attempt(limiter, '10.0.0.1', start + 3000);
    expect(await limiter.failed('10.0.0.1', start + 10_000)).toBe(true);
    const refused = (() => {
      try {
        limiter.begin('10.0.0.1', 'k', start + 11_000);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(QuotaExceededError);
    // Room for one more once the first failure (at start) leaves the minute: start + 61 s.
    expect((refused as QuotaExceededError).details).toEqual({ quota: 'authFailuresPerMinutePerAddress', limit: 3, retryAfterSeconds: 50 });
    expect((refused as QuotaExceededError).message).toBe('too many failed authentications from this address: more than 3 in the last minute');
    attempt(limiter, '10.0.0.2', start + 11_000);
    expect(limiter.blockedCount).toBe(1);
    // Once that time has come, it may try again.
    attempt(limiter, '10.0.0.1', start + 61_000);
    expect(limiter.blockedCount).toBe(0);
  });

  it('does nothing with a limit of 0', async () => {
    const limiter = new AuthFailureLimiter(new InMemoryCounters(), 0);
    expect(limiter.active).toBe(false);
    for (let i = 0; i < 10; i++) expect(await limiter.failed('10.0.0.1', start)).toBe(false);
    for (let i = 0; i < 10; i++) limiter.begin('10.0.0.1', `k${i}`, start);
    expect(limiter.addressesInFlight).toBe(0);
  });

  it('keeps at most MAX_BLOCKED_ADDRESSES refused, dropping the oldest', async () => {
    const limiter = new AuthFailureLimiter(new InMemoryCounters(), 1);
    for (let i = 0; i <= MAX_BLOCKED_ADDRESSES; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      await limiter.failed(address, start);
      await limiter.failed(address, start);
    }
    expect(limiter.blockedCount).toBe(MAX_BLOCKED_ADDRESSES);
    attempt(limiter, '10.0.0.0', start);
    expect(() => attempt(limiter, '10.0.0.1', start)).toThrow(QuotaExceededError);
  });
});

describe('AuthFailureLimiter, keys under way', () => {
  const refusalOf = (work: () => unknown): QuotaExceededError => {
    try {
      work();
    } catch (error) {
      if (error instanceof QuotaExceededError) return error;
      throw error;
    }
    throw new Error('not refused');
  };

  it('lets at most the limit plus one keys be tried at once from one address; they all failing puts it over, as one at a time would', async () => {
    const limiter = new AuthFailureLimiter(new InMemoryCounters(), 3);
    const guesses = ['g0', 'g1', 'g2', 'g3'];
    const clients = guesses.map((key) => limiter.begin('10.0.0.1', key, start));
    const refused = refusalOf(() => limiter.begin('10.0.0.1', 'g4', start));
    expect(refused.details).toEqual({ quota: 'authFailuresPerMinutePerAddress', limit: 3, retryAfterSeconds: 1 });
    // Another address is not held back by them.
    attempt(limiter, '10.0.0.2', start);
    const overs = [];
    for (const [i, client] of clients.entries()) {
      overs.push(await limiter.failed(client, start + 100));
      limiter.end(client, guesses[i]!);
    }
    expect(overs).toEqual([false, false, false, true]);
    expect(() => attempt(limiter, '10.0.0.1', start + 200)).toThrow(QuotaExceededError);
    expect(limiter.addressesInFlight).toBe(0);
  });

  it('takes one key sent many times at once as one guess: a busy client is not refused while its key is looked up', () => {
    const limiter = new AuthFailureLimiter(new InMemoryCounters(), 3);
    const clients = Array.from({ length: 50 }, () => limiter.begin('10.0.0.1', 'busy', start));
    // Its other keys still count against the limit: three more may go beside it, not four.
    const others = ['a', 'b', 'c'].map((key) => limiter.begin('10.0.0.1', key, start));
    expect(() => limiter.begin('10.0.0.1', 'd', start)).toThrow(QuotaExceededError);
    for (const client of clients) limiter.end(client, 'busy');
    for (const [i, client] of others.entries()) limiter.end(client, ['a', 'b', 'c'][i]!);
    expect(limiter.addressesInFlight).toBe(0);
  });

  it('counts the failures it saw: past the limit, one guess at a time, until they leave the minute', async () => {
    const limiter = new AuthFailureLimiter(new InMemoryCounters(), 3);
    for (let i = 0; i < 3; i++) {
      const client = limiter.begin('10.0.0.1', `g${i}`, start + i * 1000);
      expect(await limiter.failed(client, start + i * 1000)).toBe(false);
      limiter.end(client, `g${i}`);
    }
    // Three failures in the minute: a fourth key may be tried (it may be a good one), a fifth beside
    // it may not, and may try again in a second (the fourth's lookup ends by then).
    const fourth = limiter.begin('10.0.0.1', 'good', start + 10_000);
    expect(refusalOf(() => limiter.begin('10.0.0.1', 'g4', start + 10_000)).details).toMatchObject({ retryAfterSeconds: 1 });
    // The fourth was a good key: the next may go.
    limiter.end(fourth, 'good');
    const fifth = limiter.begin('10.0.0.1', 'g4', start + 10_000);
    // The fifth fails: over the limit, refused until the minute has room for one more (the failures at start and start + 1 s gone, at start + 61 s).
    expect(await limiter.failed(fifth, start + 10_000)).toBe(true);
    limiter.end(fifth, 'g4');
    expect(refusalOf(() => attempt(limiter, '10.0.0.1', start + 10_000)).details).toMatchObject({ retryAfterSeconds: 51 });
    // Once the failures left the minute, as many at once as before.
    const later = ['h0', 'h1', 'h2', 'h3'];
    const laterClients = later.map((key) => limiter.begin('10.0.0.1', key, start + 71_000));
    expect(() => limiter.begin('10.0.0.1', 'h4', start + 71_000)).toThrow(QuotaExceededError);
    for (const [i, client] of laterClients.entries()) limiter.end(client, later[i]!);
  });

  it('watches at most MAX_ADDRESSES_IN_FLIGHT addresses: past it a new one goes ahead unwatched (refused only once its failures count), those watched as before', async () => {
    const limiter = new AuthFailureLimiter(new InMemoryCounters(), 1);
    const clients = Array.from({ length: MAX_ADDRESSES_IN_FLIGHT }, (_, i) => limiter.begin(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'k', start));
    expect(limiter.addressesInFlight).toBe(MAX_ADDRESSES_IN_FLIGHT);
    // A new address: not refused, not watched (so three of its keys at once go).
    const unwatched = ['a', 'b', 'c'].map((key) => limiter.begin('192.0.2.1', key, start));
    expect(limiter.addressesInFlight).toBe(MAX_ADDRESSES_IN_FLIGHT);
    for (const [i, client] of unwatched.entries()) {
      await limiter.failed(client, start);
      limiter.end(client, ['a', 'b', 'c'][i]!);
    }
    expect(() => attempt(limiter, '192.0.2.1', start)).toThrow(QuotaExceededError);
    // A watched address: one more key beside its own, not two.
    const second = limiter.begin(clients[0]!, 'another', start);
    expect(() => limiter.begin(clients[0]!, 'third', start)).toThrow(QuotaExceededError);
    limiter.end(second, 'another');
    for (const client of clients) limiter.end(client, 'k');
    expect(limiter.addressesInFlight).toBe(0);
  });
});

describe('clientOf', () => {
  it('takes an IPv4 address as it is (mapped or not), an IPv6 address by its /64', () => {
    expect(clientOf('203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:0db8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
  });

  it('refuses the other addresses of a /64 that went over the limit', async () => {
    const limiter = new AuthFailureLimiter(new InMemoryCounters(), 2);
    for (let i = 1; i <= 3; i++) await limiter.failed(`2001:db8:1:2::${i}`, start);
    expect(() => attempt(limiter, '2001:db8:1:2:ffff::9', start)).toThrow(QuotaExceededError);
    attempt(limiter, '2001:db8:1:3::1', start);
  });
});
