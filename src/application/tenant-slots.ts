/** Places per tenant (open streams, waiting requests), at most `max` each. */
export class TenantSlots {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Places taken now, all tenants together. */
  get taken(): number {
    let n = 0;
    for (const count of this.open.values()) n += count;
    return n;
  }

  /** A release function, or undefined when the tenant has `max` open already. Releasing twice releases once. */
  take(tenantId: string): (() => void) | undefined {
    const count = this.open.get(tenantId) ?? 0;
    if (count >= this.max) return undefined;
    this.open.set(tenantId, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(tenantId) ?? 1) - 1;
      if (left === 0) this.open.delete(tenantId);
      else this.open.set(tenantId, left);
    };
  }
}
