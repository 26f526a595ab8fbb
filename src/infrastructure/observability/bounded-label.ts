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
