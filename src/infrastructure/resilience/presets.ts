import type { BulkheadOptions } from './bulkhead.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { RetryOptions } from './retry-policy.js';

/** The settings of each policy for one kind of dependency. */
export interface PolicySettings {
  breaker: CircuitBreakerOptions;
  retry: RetryOptions;
  bulkhead: BulkheadOptions;
  timeoutMs: number;
}

export type PresetName = 'forDatabase' | 'forMessageBroker' | 'forCache' | 'forExternalApi' | 'aggressive' | 'conservative';

/**
 * The seed's presets. A database or broker is either there or not, so a run of failures opens
 * the breaker; an external API fails in part, so a failure rate does. docs/resilience.md explains each figure.
 */
export const PRESETS: Readonly<Record<PresetName, PolicySettings>> = {
  forDatabase: {
    breaker: { consecutiveFailures: 5, halfOpenAfterMs: 5_000 },
    retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 1_000 },
    bulkhead: { maxConcurrent: 20, maxQueue: 2_000 },
    timeoutMs: 30_000,
  },
  forMessageBroker: {
    breaker: { consecutiveFailures: 5, halfOpenAfterMs: 3_000 },
    retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 2_000 },
    bulkhead: { maxConcurrent: 100, maxQueue: 5_000 },
    timeoutMs: 10_000,
  },
  // A cache or shared counters: the mesh runs without them (local counts), so give up fast and never repeat an increment.
  forCache: {
    breaker: { consecutiveFailures: 5, halfOpenAfterMs: 2_000 },
    retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 },
    bulkhead: { maxConcurrent: 500, maxQueue: 5_000 },
    timeoutMs: 1_000,
  },
  forExternalApi: {
    breaker: { failureRate: { threshold: 0.5, windowMs: 30_000, minimumCalls: 20 }, halfOpenAfterMs: 30_000 },
    retry: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 5_000 },
    bulkhead: { maxConcurrent: 10, maxQueue: 100 },
    timeoutMs: 10_000,
  },
  aggressive: {
    breaker: { consecutiveFailures: 3, halfOpenAfterMs: 1_000 },
    retry: { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 200 },
    bulkhead: { maxConcurrent: 10, maxQueue: 20 },
    timeoutMs: 1_000,
  },
  conservative: {
    breaker: { consecutiveFailures: 10, halfOpenAfterMs: 60_000 },
    retry: { maxAttempts: 5, initialDelayMs: 500, maxDelayMs: 30_000 },
    bulkhead: { maxConcurrent: 50, maxQueue: 1_000 },
    timeoutMs: 30_000,
  },
};

/** The name a preset's policy gets unless told otherwise (it labels metrics and log lines). */
export const PRESET_POLICY_NAMES: Readonly<Record<PresetName, string>> = {
  forDatabase: 'database',
  forMessageBroker: 'message_broker',
  forCache: 'cache',
  forExternalApi: 'external_api',
  aggressive: 'aggressive',
  conservative: 'conservative',
};

/** A preset's options for one policy, some changed, and the policy's name. */
export type PresetOverrides<O> = Partial<O> & { name?: string };
