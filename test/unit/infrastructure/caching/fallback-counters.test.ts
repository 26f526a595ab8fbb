import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../src/application/logger.js';
import type { CountWindow, SharedCounters, WindowAddition } from '../../../../src/application/ports.js';
import { UnavailableError } from '../../../../src/domain/index.js';
import { FallbackCounters } from '../../../../src/infrastructure/caching/fallback-counters.js';
import { InMemoryCounters } from '../../../../src/infrastructure/caching/in-memory-counters.js';

/** Shared counters that can be switched off, as Redis going away. */
class Switchable implements SharedCounters {
  readonly inner = new InMemoryCounters();
  down: Error | undefined;
  add = (t: string, n: string, w: number, a: number, now: number) => this.addInWindow(t, n, w, a, now).then((c) => c.total);
  total = (t: string, n: string, w: number, now: number) => this.addInWindow(t, n, w, 0, now).then((c) => c.total);
  addInWindow(t: string, n: string, w: number, a: number, now: number): Promise<CountWindow> {
    return this.down ? Promise.reject(this.down) : this.inner.addInWindow(t, n, w, a, now);
  }
  addInWindows(t: string, additions: readonly WindowAddition[], now: number): Promise<CountWindow[]> {
    return this.down ? Promise.reject(this.down) : this.inner.addInWindows(t, additions, now);
  }
}

describe('FallbackCounters', () => {
  it('counts on the shared counters; while they are unavailable, on its own; then on the shared ones again', async () => {
    const shared = new Switchable();
    const counters = new FallbackCounters(shared, silentLogger);
    const now = Date.now();
    expect(await counters.add('acme', 'requests', 60_000, 1, now)).toBe(1);
    expect(counters.degraded).toBe(false);
    shared.down = new UnavailableError('Redis is unavailable');
    expect(await counters.add('acme', 'requests', 60_000, 1, now)).toBe(1);
    expect(await counters.add('acme', 'requests', 60_000, 1, now)).toBe(2);
    expect(await counters.total('acme', 'requests', 60_000, now)).toBe(2);
    expect(counters.degraded).toBe(true);
    expect(counters.localCounts).toBe(3);
    shared.down = undefined;
    expect(await counters.add('acme', 'requests', 60_000, 1, now)).toBe(2);
    expect(counters.degraded).toBe(false);
  });

  it('keeps tenants apart locally too', async () => {
    const shared = new Switchable();
    shared.down = new UnavailableError('down');
    const counters = new FallbackCounters(shared, silentLogger);
    await counters.add('acme', 'requests', 60_000, 5, Date.now());
    expect(await counters.total('globex', 'requests', 60_000, Date.now())).toBe(0);
  });

  it('passes on an error that is not an outage', async () => {
    const shared = new Switchable();
    shared.down = new TypeError('a bug');
    await expect(new FallbackCounters(shared, silentLogger).add('acme', 'x', 60_000, 1, Date.now())).rejects.toBeInstanceOf(TypeError);
  });
});
