import type { Page } from '../../application/ports.js';
import { encodeCursor } from './rows.js';

/** WHERE clauses with numbered parameters, built up filter by filter. */
export class SqlWhere {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];

  /** `clause` names its parameter `?` (once or more). */
  add(clause: string, value: unknown): this {
    this.params.push(value);
    this.clauses.push(clause.replaceAll('?', `$${this.params.length}`));
    return this;
  }

  /** The next parameter's placeholder, for LIMIT and the like. */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  get sql(): string {
    return this.clauses.join(' AND ');
  }
}

/** A page from `limit + 1` rows: the extra row says there is a next page. */
export function pageOf<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return rows.length > limit ? { items, nextCursor: encodeCursor(items.at(-1)!.id) } : { items };
}
