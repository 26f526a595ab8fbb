import { beforeEach, describe, expect, it } from 'vitest';
import type { SharedCounters } from '../../src/application/ports.js';

/** SharedCounters: sliding windows in 60 buckets, per tenant and name. In-memory and Redis run this suite. */
export function sharedCountersContract(name: string, create: () => Promise<SharedCounters>): void {
  describe(`SharedCounters contract: ${name}`, () => {
    let counters: SharedCounters;
    let n = 0;
    const tenant = () => `tenant-${++n}-${Date.now()}`;
    beforeEach(async () => {
      counters = await create();
    });

    it('adds and totals within the window, and the total forgets what slid out of it', async () => {
      const t = tenant();
      const start = 1_000_000_000_000;
      expect(await counters.total(t, 'requests', 60_000, start)).toBe(0);
      expect(await counters.add(t, 'requests', 60_000, 1, start)).toBe(1);
      expect(await counters.add(t, 'requests', 60_000, 2, start + 10_000)).toBe(3);
      expect(await counters.total(t, 'requests', 60_000, start + 59_000)).toBe(3);
      // 61 s on, the first bucket has left the window; 10 s more and the second has too.
      expect(await counters.total(t, 'requests', 60_000, start + 61_000)).toBe(2);
      expect(await counters.add(t, 'requests', 60_000, 5, start + 71_000)).toBe(5);
    });

    it('shows the window bucket by bucket, oldest first, so callers can tell when counts leave it', async () => {
      const t = tenant();
      const start = 1_000_000_000_000;
      await counters.add(t, 'requests', 60_000, 2, start);
      const later = await counters.addInWindow(t, 'requests', 60_000, 3, start + 30_000);
      expect(later.bucketMs).toBe(1000);
      expect(later.current).toBe(Math.floor((start + 30_000) / 1000));
      expect(later.buckets).toHaveLength(60);
      expect(later.total).toBe(5);
      expect(later.buckets[59]).toBe(3);
      expect(later.buckets[29]).toBe(2);
      expect(later.buckets.reduce((a, b) => a + b, 0)).toBe(5);
    });

    it('adds to several windows at once, each as addInWindow would, in the order asked', async () => {
      const t = tenant();
      const start = 1_000_000_000_000;
      await counters.add(t, 'per-key', 60_000, 2, start);
      const [key, tenantWide, hourly] = await counters.addInWindows(
        t,
        [
          { name: 'per-key', windowMs: 60_000, amount: 1 },
          { name: 'per-tenant', windowMs: 60_000, amount: 1 },
          { name: 'per-key', windowMs: 3_600_000, amount: 5 },
        ],
        start + 30_000,
      );
      expect(key).toMatchObject({ total: 3, bucketMs: 1000, current: Math.floor((start + 30_000) / 1000) });
      expect(key!.buckets[29]).toBe(2);
      expect(key!.buckets[59]).toBe(1);
      expect(tenantWide).toMatchObject({ total: 1 });
      expect(hourly).toMatchObject({ total: 5, bucketMs: 60_000 });
      expect(await counters.total(t, 'per-key', 60_000, start + 30_000)).toBe(3);
      expect(await counters.total(t, 'per-tenant', 60_000, start + 30_000)).toBe(1);
      expect(await counters.addInWindows(t, [], start)).toEqual([]);
    });

    it('keeps tenants, names and window lengths apart', async () => {
      const [a, b] = [tenant(), tenant()];
      const now = 1_000_000_000_000;
      await counters.add(a, 'requests', 60_000, 4, now);
      await counters.add(b, 'requests', 60_000, 1, now);
      await counters.add(a, 'tasks', 60_000, 7, now);
      await counters.add(a, 'requests', 3_600_000, 9, now);
      expect(await counters.total(a, 'requests', 60_000, now)).toBe(4);
      expect(await counters.total(b, 'requests', 60_000, now)).toBe(1);
      expect(await counters.total(a, 'tasks', 60_000, now)).toBe(7);
      expect(await counters.total(a, 'requests', 3_600_000, now)).toBe(9);
    });

    it('counts every one of many concurrent additions', async () => {
      const t = tenant();
      const now = Date.now();
      const totals = await Promise.all(Array.from({ length: 200 }, () => counters.add(t, 'burst', 60_000, 1, now)));
      expect(await counters.total(t, 'burst', 60_000, now)).toBe(200);
      // Each addition saw its own total: atomic increments, no two alike.
      expect(new Set(totals).size).toBe(200);
    });
  });
}
