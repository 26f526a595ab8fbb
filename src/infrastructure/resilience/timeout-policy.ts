import { TaskCancelledError, timeout, TimeoutStrategy, type TimeoutPolicy as CockatielTimeout } from 'cockatiel';
import { DependencyTimeoutError } from './errors.js';
import { ResilienceRegistry } from './observer.js';

/**
 * Gives a call a time budget: past it the caller gets DependencyTimeoutError at once, and the
 * call's AbortSignal fires so that work which honours it stops too.
 */
export class TimeoutPolicy {
  private readonly policy: CockatielTimeout;

  constructor(
    readonly name: string,
    readonly timeoutMs: number,
    private readonly registry: ResilienceRegistry = new ResilienceRegistry(),
  ) {
    this.policy = timeout(timeoutMs, TimeoutStrategy.Aggressive);
  }

  async execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    try {
      return await this.policy.execute((_context, s) => fn(s), signal);
    } catch (error) {
      // Cockatiel says "cancelled" both for its own deadline and for the caller's abort: only the first is a timeout.
      if (error instanceof TaskCancelledError && !signal?.aborted) {
        this.registry.timedOut(this.name);
        throw new DependencyTimeoutError(this.name, this.timeoutMs);
      }
      throw error;
    }
  }
}
