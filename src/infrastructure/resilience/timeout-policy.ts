import { DependencyTimeoutError } from './errors.js';
import { ResilienceRegistry } from './observer.js';

const NEVER_ABORTED = new AbortController().signal;

/**
 * Gives a call a time budget: past it the caller gets DependencyTimeoutError at once, and the call
 * is abandoned; the driver's own timeout ends its work (node-postgres' query_timeout, the NATS
 * client's request timeout, ioredis' commandTimeout). A caller's abort passes through as it is.
 *
 * Written here rather than on cockatiel's timeout, and without an AbortController per call: both
 * cost 10-50 µs a call (mostly collecting the AbortSignal), the whole budget of a database call's
 * policies; this costs a timer (bench/resilience.mjs measures both).
 */
export class TimeoutPolicy {
  constructor(
    readonly name: string,
    readonly timeoutMs: number,
    private readonly registry: ResilienceRegistry = new ResilienceRegistry(),
  ) {}

  execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal: AbortSignal = NEVER_ABORTED): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.registry.timedOut(this.name);
        reject(new DependencyTimeoutError(this.name, this.timeoutMs));
      }, this.timeoutMs);
      const settle = <V>(then: (value: V) => void) => (value: V) => {
        clearTimeout(timer);
        then(value);
      };
      try {
        Promise.resolve(fn(signal)).then(settle(resolve), settle(reject));
      } catch (error) {
        settle(reject)(error);
      }
    });
  }
}
