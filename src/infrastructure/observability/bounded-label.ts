/**
 * What a label value beyond the cap is reported as: parentheses, which no tenant id or capability
 * name may hold, so the folded series never merge with a real tenant or capability called `other`.
 */
export const OTHER = '(other)';

/**
 * The values one label may take, capped: the first `max` distinct values are kept as they are,
 * later ones are folded into `(other)`, so no tenant or capability count can grow the series
 * without bound.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(readonly max: number) {}

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(raw);
    return raw;
  }
}

/**
 * A label whose values belong to a scope (a capability to its tenant), capped in all and per
 * scope: no scope takes more than `maxPerScope` values, so one tenant making up capability names
 * cannot spend the others' share. The same value in two scopes counts twice: each is a series.
 */
export class ScopedBoundedLabel {
  private readonly seen = new Map<string, Set<string>>();
  private total = 0;

  constructor(
    readonly max: number,
    readonly maxPerScope: number,
  ) {}

  /** `scope` must itself be bounded (a tenant label's value): it keys what is remembered. */
  value(scope: string, raw: string): string {
    let values = this.seen.get(scope);
    if (values?.has(raw)) return raw;
    if (this.total >= this.max || (values?.size ?? 0) >= this.maxPerScope) return OTHER;
    if (!values) this.seen.set(scope, (values = new Set()));
    values.add(raw);
    this.total++;
    return raw;
  }
}
