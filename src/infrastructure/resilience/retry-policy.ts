import { ExponentialBackoff, fullJitterGenerator, handleWhen, retry, type RetryPolicy as CockatielRetry } from 'cockatiel';
import { trace } from '@opentelemetry/api';
import { UnavailableError } from '../../domain/index.js';
import { isPolicyRefusal } from './errors.js';
import { PRESET_POLICY_NAMES, PRESETS, type PresetName, type PresetOverrides } from './presets.js';
import { ResilienceRegistry } from './observer.js';
import { PLAIN } from '../../domain/plain.js';

export interface RetryOptions {
  /** Tries in all, the first included. */
  maxAttempts: number;
  /** The first backoff's ceiling; each next one doubles, up to `maxDelayMs`. Full jitter: the wait is random between 0 and the ceiling. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Which errors are worth another try. Default: the dependency was unavailable (UnavailableError), but not a breaker's or a bulkhead's refusal. */
  isRetryable?: (error: Error) => boolean;
}

export const isTransient = (error: Error): boolean => error instanceof UnavailableError && !isPolicyRefusal(error);

/**
 * Tries again what failed for a passing reason: exponential backoff with full jitter (so many
 * callers retrying at once spread out), bounded attempts; the last error is thrown as it was.
 * Each retry is counted, logged at debug, and an event on the active span.
 */
export class RetryPolicy {
  private readonly policy: CockatielRetry;

  constructor(
    readonly name: string,
    readonly options: RetryOptions,
    registry: ResilienceRegistry = new ResilienceRegistry(),
  ) {
    const backoff = new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: options.initialDelayMs, maxDelay: options.maxDelayMs });
    this.policy = retry(handleWhen(options.isRetryable ?? isTransient), { maxAttempts: options.maxAttempts - 1, backoff });
    this.policy.onRetry((event) => {
      const cause = 'error' in event ? event.error : new Error('unexpected result');
      trace.getActiveSpan()?.addEvent('retry', { 'retry.policy': name, 'retry.attempt': event.attempt, 'retry.delay_ms': Math.round(event.delay), 'exception.message': cause.message });
      registry.retried(name, event.attempt, event.delay, cause);
    });
  }

  /** A preset's retry settings, some changed. */
  static preset(preset: PresetName, overrides: PresetOverrides<RetryOptions> = {}, registry?: ResilienceRegistry): RetryPolicy {
    const { name = PRESET_POLICY_NAMES[preset], ...options } = overrides;
    return new RetryPolicy(name, { ...PLAIN, ...PRESETS[preset].retry, ...options }, registry);
  }
  static forDatabase(overrides?: PresetOverrides<RetryOptions>, registry?: ResilienceRegistry): RetryPolicy {
    return RetryPolicy.preset('forDatabase', overrides, registry);
  }
  static forMessageBroker(overrides?: PresetOverrides<RetryOptions>, registry?: ResilienceRegistry): RetryPolicy {
    return RetryPolicy.preset('forMessageBroker', overrides, registry);
  }
  static forCache(overrides?: PresetOverrides<RetryOptions>, registry?: ResilienceRegistry): RetryPolicy {
    return RetryPolicy.preset('forCache', overrides, registry);
  }
  static forExternalApi(overrides?: PresetOverrides<RetryOptions>, registry?: ResilienceRegistry): RetryPolicy {
    return RetryPolicy.preset('forExternalApi', overrides, registry);
  }
  static aggressive(overrides?: PresetOverrides<RetryOptions>, registry?: ResilienceRegistry): RetryPolicy {
    return RetryPolicy.preset('aggressive', overrides, registry);
  }
  static conservative(overrides?: PresetOverrides<RetryOptions>, registry?: ResilienceRegistry): RetryPolicy {
    return RetryPolicy.preset('conservative', overrides, registry);
  }

  /** Runs `fn`, again after a backoff while it fails retryably; `attempt` counts from 0. */
  execute<T>(fn: (attempt: number, signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    return this.policy.execute(({ attempt, signal: s }) => fn(attempt, s), signal);
  }
}
