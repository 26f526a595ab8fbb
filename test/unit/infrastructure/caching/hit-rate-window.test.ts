import { describe, expect, it } from 'vitest';
import { perKind } from '../../../../src/infrastructure/caching/l1-store.js';
import { HIT_RATE_STEP_MS, HIT_RATE_WINDOW_MS, HitRateWindow } from '../../../../src/infrastructure/caching/hit-rate-window.js';

const counts = (l1Agent: number) => ({ l1: { ...perKind(), agent: l1Agent }, l2: perKind() });

describe('HitRateWindow', () => {
  it('is null for a tier and kind with no read, and counts every read since start until a window has passed', () => {
    const window = new HitRateWindow();
    expect(window.rates(counts(0), counts(0)).l1.agent).toBeNull();
    window.sample(counts(0), counts(0));
    expect(window.rates(counts(3), counts(1)).l1.agent).toBe(0.75);
    expect(window.rates(counts(3), counts(1)).l2.agent).toBeNull();
  });

  it('forgets reads older than the window: after a minute of hits, a minute of misses reads 0', () => {
    const window = new HitRateWindow();
    let hits = 0;
    let misses = 0;
    const steps = HIT_RATE_WINDOW_MS / HIT_RATE_STEP_MS;
    for (let i = 0; i < steps; i++) {
      window.sample(counts(hits), counts(misses));
      hits += 100;
    }
    expect(window.rates(counts(hits), counts(misses)).l1.agent).toBe(1);
    for (let i = 0; i < steps; i++) {
      window.sample(counts(hits), counts(misses));
      misses += 100;
    }
    expect(window.rates(counts(hits), counts(misses)).l1.agent).toBe(0);
    // Half and half over the last window.
    for (let i = 0; i < steps / 2; i++) {
      window.sample(counts(hits), counts(misses));
      hits += 100;
    }
    expect(window.rates(counts(hits), counts(misses)).l1.agent).toBe(0.5);
  });
});
