import { ValidationError } from '../../../domain/index.js';

/** A deadline as the API takes it: epoch milliseconds, or an RFC 3339 date-time. */
export function parseDeadline(value: number | string | undefined): number | undefined {
  if (value === undefined || typeof value === 'number') return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ValidationError('deadline must be epoch milliseconds or an RFC 3339 date-time', 'deadline');
  return ms;
}
