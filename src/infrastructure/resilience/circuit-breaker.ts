import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, SamplingBreaker, type CircuitBreakerPolicy } from 'cockatiel';
import { CircuitBreakerOpenError } from './errors.js';
import { PRESET_POLICY_NAMES, PRESETS, type PresetName, type PresetOverrides } from './presets.js';
import { ResilienceRegistry, type BreakerSnapshot, type BreakerState } from './observer.js';
import { PLAIN } from '../../domain/plain.js';

export interface CircuitBreakerOptions {
  /** Opens after this many failures in a row (the default trigger). */
  consecutiveFailures?: number;
  /** Or: opens when this share of calls (0-1) failed over `windowMs`, once at least `minimumCalls` were made. */
  failureRate?: { threshold: number; windowMs: number; minimumCalls: number };
  /** How long it stays open before it lets one probe call through (half-open). */
  halfOpenAfterMs: number;
  /** Which errors mean the dependency is failing; the default counts every error. A caller's own mistake (a bad query, a conflict) should not count. */
  isFailure?: (error: Error) => boolean;
}

const STATES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/**
 * Stops calling a dependency that keeps failing: closed (calls flow), open (calls fail at once
 * with CircuitBreakerOpenError), half-open (one probe decides). On cockatiel's breaker; named, and
 * every transition is logged and counted by its registry.
 */
export class CircuitBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private current: BreakerState = 'closed';
  private openedAt = 0;
  private lastCause: Error | undefined;

  constructor(
    readonly name: string,
    readonly options: CircuitBreakerOptions,
    registry: ResilienceRegistry = new ResilienceRegistry(),
  ) {
    const rate = options.failureRate;
    const breaker = rate
      ? new SamplingBreaker({ threshold: rate.threshold, duration: rate.windowMs, minimumRps: rate.minimumCalls / (rate.windowMs / 1000) })
      : new ConsecutiveBreaker(options.consecutiveFailures ?? 5);
    const isFailure = options.isFailure ?? (() => true);
    this.policy = circuitBreaker(handleWhen(isFailure), { breaker, halfOpenAfter: options.halfOpenAfterMs });
    this.policy.onBreak((reason) => {
      this.openedAt = Date.now();
      this.lastCause = 'error' in reason ? reason.error : undefined;
    });
    this.policy.onStateChange((state) => {
      const from = this.current;
      this.current = STATES[state];
      if (from !== this.current) registry.breakerTransition(name, from, this.current, this.current === 'open' ? this.lastCause : undefined);
    });
    registry.addBreaker(name, () => this.snapshot());
  }

  /** A preset's breaker settings, some changed. */
  static preset(preset: PresetName, overrides: PresetOverrides<CircuitBreakerOptions> = {}, registry?: ResilienceRegistry): CircuitBreaker {
    const { name = PRESET_POLICY_NAMES[preset], ...options } = overrides;
    return new CircuitBreaker(name, { ...PLAIN, ...PRESETS[preset].breaker, ...options }, registry);
  }
  static forDatabase(overrides?: PresetOverrides<CircuitBreakerOptions>, registry?: ResilienceRegistry): CircuitBreaker {
    return CircuitBreaker.preset('forDatabase', overrides, registry);
  }
  static forMessageBroker(overrides?: PresetOverrides<CircuitBreakerOptions>, registry?: ResilienceRegistry): CircuitBreaker {
    return CircuitBreaker.preset('forMessageBroker', overrides, registry);
  }
  static forCache(overrides?: PresetOverrides<CircuitBreakerOptions>, registry?: ResilienceRegistry): CircuitBreaker {
    return CircuitBreaker.preset('forCache', overrides, registry);
  }
  static forExternalApi(overrides?: PresetOverrides<CircuitBreakerOptions>, registry?: ResilienceRegistry): CircuitBreaker {
    return CircuitBreaker.preset('forExternalApi', overrides, registry);
  }
  static aggressive(overrides?: PresetOverrides<CircuitBreakerOptions>, registry?: ResilienceRegistry): CircuitBreaker {
    return CircuitBreaker.preset('aggressive', overrides, registry);
  }
  static conservative(overrides?: PresetOverrides<CircuitBreakerOptions>, registry?: ResilienceRegistry): CircuitBreaker {
    return CircuitBreaker.preset('conservative', overrides, registry);
  }

  get state(): BreakerState {
    return this.current;
  }

  /**
   * Runs `fn` unless the circuit is open, or half-open with its probe running; then rejects at
   * once with CircuitBreakerOpenError (its cause: the failure that opened it).
   */
  async call<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    // Cockatiel holds the other calls until the probe ends; here they fail fast, so nobody waits on a dependency that may still be down.
    if (this.current === 'half-open') throw new CircuitBreakerOpenError(this.name, 1_000, this.lastCause);
    try {
      return await this.policy.execute(({ signal: s }) => fn(s), signal);
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new CircuitBreakerOpenError(this.name, this.retryAfterMs(), this.lastCause);
      throw error;
    }
  }

  /** Holds the circuit open until the returned handle is disposed (an operator's switch, or a test). */
  isolate(): { dispose(): void } {
    return this.policy.isolate();
  }

  /** How long until a probe may go through (0 when calls flow). */
  retryAfterMs(): number {
    if (this.current === 'closed') return 0;
    return Math.max(0, this.openedAt + this.options.halfOpenAfterMs - Date.now());
  }

  snapshot(): BreakerSnapshot {
    return { name: this.name, state: this.current };
  }
}
