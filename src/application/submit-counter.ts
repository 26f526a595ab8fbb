const BUCKET_MS = 60_000;
const BUCKETS = 60;

/**
 * Tasks submitted per tenant over the last hour, in one-minute buckets, so the hourly quota costs
 * no query per submit. Seeded from the store at start. Bounded by the number of tenants.
 */
export class SubmitCounter {
  private readonly perTenant = new Map<string, { minutes: Int32Array; counts: Int32Array }>();

  record(tenantId: string, now: number, n = 1): void {
    const minute = Math.floor(now / BUCKET_MS);
    let entry = this.perTenant.get(tenantId);
    if (!entry) this.perTenant.set(tenantId, (entry = { minutes: new Int32Array(BUCKETS).fill(-1), counts: new Int32Array(BUCKETS) }));
    const i = minute % BUCKETS;
    if (entry.minutes[i] !== minute) {
      entry.minutes[i] = minute;
      entry.counts[i] = 0;
    }
    entry.counts[i]! += n;
  }

  lastHour(tenantId: string, now: number): number {
    const entry = this.perTenant.get(tenantId);
    if (!entry) return 0;
    const current = Math.floor(now / BUCKET_MS);
    let total = 0;
    for (let i = 0; i < BUCKETS; i++) if (entry.minutes[i]! > current - BUCKETS) total += entry.counts[i]!;
    return total;
  }
}
