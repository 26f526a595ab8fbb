/** Open streams per tenant, at most `max` each. */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

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
