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

/** Failures to open a connection: the statement never reached the server, so trying it again cannot run it twice. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', '57P03', '53300']);

export function neverReachedServer(error: Error): boolean {
  const cause = error instanceof UnavailableError ? error.cause : error;
  if (typeof cause !== 'object' || cause === null) return false;
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECT_CODES.has(code)) return true;
  const message = (cause as { message?: unknown }).message;
  return typeof message === 'string' && message.includes('timeout exceeded when trying to connect');
}

/** A lost database becomes a 503 with Retry-After for API callers (the driver's error as its cause); anything else passes through. */
export function asUnavailable(error: unknown): unknown {
  if (!isDatabaseUnreachable(error)) return error;
  const unavailable = new UnavailableError(`the database is unreachable (${(error as Error).message}); retry shortly`, 2);
  unavailable.cause = error;
  return unavailable;
}
