import { describe, expect, it } from 'vitest';
import { HealthCheckService } from '../../../src/application/health-check.js';

const probe = (state: { up: boolean; calls: number; hang?: boolean }) => ({
  ping: async () => {
    state.calls++;
    if (state.hang) return new Promise<void>(() => {});
    if (!state.up) throw new Error('refused');
  },
});

describe('HealthCheckService', () => {
  it('reuses a result for cacheMs, however many ask, and checks again after', async () => {
    const store = { up: true, calls: 0 };
    const health = new HealthCheckService({ store: probe(store) }, { cacheMs: 200, maxEventLoopDelayMs: 10_000 });
    try {
      await Promise.all(Array.from({ length: 20 }, () => health.isReady()));
      expect(store.calls).toBe(1);
      store.up = false;
      expect(await health.isReady()).toBe(true);
      await new Promise((r) => setTimeout(r, 220));
      const after = await health.getSystemHealth();
      expect(after).toMatchObject({ status: 'unhealthy', checks: { store: { status: 'down', error: 'refused' } } });
      expect(store.calls).toBe(2);
      // Without the cache: asked again at once.
      store.up = true;
      expect((await health.getSystemHealth({ useCache: false })).status).toBe('healthy');
      expect(store.calls).toBe(3);
    } finally {
      health.close();
    }
  });

  it('is degraded, and still ready, while only a dependency it can run without is down', async () => {
    const store = { up: true, calls: 0 };
    const redis = { up: false, calls: 0 };
    const health = new HealthCheckService({ store: probe(store), redis: probe(redis) }, { cacheMs: 0, maxEventLoopDelayMs: 10_000 }, new Set(['redis']));
    try {
      expect(await health.getSystemHealth()).toMatchObject({ status: 'degraded', degraded: ['redis'], checks: { redis: { status: 'down' } } });
      expect(await health.isReady()).toBe(true);
      store.up = false;
      expect(await health.getSystemHealth()).toMatchObject({ status: 'unhealthy', degraded: ['redis'] });
      expect(await health.isReady()).toBe(false);
      store.up = redis.up = true;
      expect(await health.getSystemHealth()).toMatchObject({ status: 'healthy', degraded: [] });
    } finally {
      health.close();
    }
  });

  it('counts a probe that hangs as down within the probe timeout', async () => {
    const health = new HealthCheckService({ broker: probe({ up: true, calls: 0, hang: true }) }, { cacheMs: 0, maxEventLoopDelayMs: 10_000 });
    try {
      const started = Date.now();
      expect((await health.getSystemHealth()).checks.broker).toEqual({ status: 'down', error: 'no answer within 2000 ms' });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      health.close();
    }
  });

  it('is not alive while the event loop is stalled past the bound, and alive again after', async () => {
    const health = new HealthCheckService({}, { cacheMs: 0, maxEventLoopDelayMs: 100 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const until = Date.now() + 300;
      while (Date.now() < until) {
        // Block the loop, as a runaway computation would.
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(health.liveness()).toMatchObject({ alive: false });
      await new Promise((r) => setTimeout(r, 100));
      expect(health.isAlive()).toBe(true);
    } finally {
      health.close();
    }
  });
});
