import { BulkheadIsolation, type BulkheadOptions } from './bulkhead.js';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { ResilienceRegistry } from './observer.js';
import { PRESETS, type PolicySettings, type PresetName } from './presets.js';
import { RetryPolicy, type RetryOptions } from './retry-policy.js';
import { TimeoutPolicy } from './timeout-policy.js';
import { PLAIN } from '../../domain/plain.js';

const NEVER_ABORTED = new AbortController().signal;

export interface DependencyPolicyOverrides {
  breaker?: Partial<CircuitBreakerOptions>;
  retry?: Partial<RetryOptions>;
  bulkhead?: Partial<BulkheadOptions>;
  timeoutMs?: number;
}

/**
 * Every call to one dependency goes through its four policies, outermost first: the bulkhead
 * (bounded concurrency, bounded queue), the retry (only for calls safe to repeat), the breaker
 * (fail fast while the dependency is down), the timeout (a budget per try).
 */
export class DependencyPolicy {
  readonly bulkhead: BulkheadIsolation;
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreaker;
  readonly timeout: TimeoutPolicy;

  private readonly enabled: boolean;

  constructor(
    readonly name: string,
    settings: PolicySettings,
    registry: ResilienceRegistry = new ResilienceRegistry(),
  ) {
    this.enabled = registry.enabled;
    this.bulkhead = new BulkheadIsolation(name, settings.bulkhead, registry);
    this.retry = new RetryPolicy(name, settings.retry, registry);
    this.breaker = new CircuitBreaker(name, settings.breaker, registry);
    this.timeout = new TimeoutPolicy(name, settings.timeoutMs, registry);
  }

  /** A preset's settings, with some changed. */
  static preset(preset: PresetName, name: string, registry?: ResilienceRegistry, overrides: DependencyPolicyOverrides = {}): DependencyPolicy {
    const base = PRESETS[preset];
    const settings: PolicySettings = {
      breaker: { ...PLAIN, ...base.breaker, ...overrides.breaker },
      retry: { ...PLAIN, ...base.retry, ...overrides.retry },
      bulkhead: { ...PLAIN, ...base.bulkhead, ...overrides.bulkhead },
      timeoutMs: overrides.timeoutMs ?? base.timeoutMs,
    };
    return new DependencyPolicy(name, settings, registry);
  }

  /** Runs `fn` through the policies; `retry: false` for a call that must not run twice (a write whose fate is unknown). */
  execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, options: { retry?: boolean } = {}): Promise<T> {
    if (!this.enabled) return Promise.resolve(fn(NEVER_ABORTED));
    const once = (signal?: AbortSignal) => this.breaker.call((s) => this.timeout.execute(fn, s), signal);
    return this.bulkhead.execute((signal) => (options.retry === false ? once(signal) : this.retry.execute((_attempt, s) => once(s), signal)));
  }
}
