import { UnavailableError } from '../../domain/index.js';

/** Socket errors and SQLSTATE classes that mean "the database is not there right now", not "the query is wrong". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400']);

export function isDatabaseUnreachable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  const message = (error as { message?: unknown }).message;
  // node-postgres says these in words, without a code.
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(message);
}

/** A lost database becomes a 503 with Retry-After for API callers; anything else passes through. */
export function asUnavailable(error: unknown): unknown {
  if (!isDatabaseUnreachable(error)) return error;
  return new UnavailableError(`the database is unreachable (${(error as Error).message}); retry shortly`, 2);
}
