import { UnavailableError } from '../../domain/index.js';

/** Seconds for a Retry-After header: at least 1, rounded up. */
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * A call refused without being tried: the dependency's circuit is open. The API answers 503 with
 * Retry-After (when the breaker will let a probe through); `cause` is the failure that opened it.
 */
export class CircuitBreakerOpenError extends UnavailableError {
  constructor(
    readonly policy: string,
    readonly retryAfterMs: number,
    cause?: Error,
  ) {
    super(`${policy} is unavailable: its circuit breaker is open${cause ? ` (${cause.message})` : ''}; retry in ${seconds(retryAfterMs)} s`, seconds(retryAfterMs));
    this.name = 'CircuitBreakerOpenError';
    if (cause) this.cause = cause;
  }
}

/** A call refused because the dependency's bulkhead and its queue are full: the dependency is saturated. */
export class BulkheadRejectedError extends UnavailableError {
  constructor(
    readonly policy: string,
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {
    super(`${policy} is saturated: ${maxConcurrent} calls running and ${maxQueue} waiting; retry shortly`, 1);
    this.name = 'BulkheadRejectedError';
  }
}

/** A call that did not finish within its time budget; the dependency may still complete it. */
export class DependencyTimeoutError extends UnavailableError {
  constructor(
    readonly policy: string,
    readonly timeoutMs: number,
  ) {
    super(`${policy} did not answer within ${timeoutMs} ms; retry shortly`, 1);
    this.name = 'DependencyTimeoutError';
  }
}

/** Refusals by a policy itself: retrying them at once cannot help. */
export function isPolicyRefusal(error: unknown): boolean {
  return error instanceof CircuitBreakerOpenError || error instanceof BulkheadRejectedError;
}
