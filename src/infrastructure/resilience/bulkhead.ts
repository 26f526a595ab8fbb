import { bulkhead, BulkheadRejectedError as CockatielRejected, type BulkheadPolicy } from 'cockatiel';
import { BulkheadRejectedError } from './errors.js';
import { PRESET_POLICY_NAMES, PRESETS, type PresetName, type PresetOverrides } from './presets.js';
import { ResilienceRegistry, type BulkheadMetrics, type BulkheadSnapshot } from './observer.js';
import { PLAIN } from '../../domain/plain.js';

export interface BulkheadOptions {
  /** Calls running at once. */
  maxConcurrent: number;
  /** Calls waiting for a slot; past it, BulkheadRejectedError (a 503 on the API). */
  maxQueue: number;
}

/**
 * Bounds the calls in flight to one dependency, so that a slow one holds at most `maxConcurrent`
 * requests and a bounded queue, never every request of the process. On cockatiel's bulkhead.
 */
export class BulkheadIsolation {
  private readonly policy: BulkheadPolicy;

  constructor(
    readonly name: string,
    readonly options: BulkheadOptions,
    private readonly registry: ResilienceRegistry = new ResilienceRegistry(),
  ) {
    this.policy = bulkhead(options.maxConcurrent, options.maxQueue);
    registry.addBulkhead(name, () => this.snapshot());
  }

  /** A preset's bulkhead settings, some changed. */
  static preset(preset: PresetName, overrides: PresetOverrides<BulkheadOptions> = {}, registry?: ResilienceRegistry): BulkheadIsolation {
    const { name = PRESET_POLICY_NAMES[preset], ...options } = overrides;
    return new BulkheadIsolation(name, { ...PLAIN, ...PRESETS[preset].bulkhead, ...options }, registry);
  }
  static forDatabase(overrides?: PresetOverrides<BulkheadOptions>, registry?: ResilienceRegistry): BulkheadIsolation {
    return BulkheadIsolation.preset('forDatabase', overrides, registry);
  }
  static forMessageBroker(overrides?: PresetOverrides<BulkheadOptions>, registry?: ResilienceRegistry): BulkheadIsolation {
    return BulkheadIsolation.preset('forMessageBroker', overrides, registry);
  }
  static forCache(overrides?: PresetOverrides<BulkheadOptions>, registry?: ResilienceRegistry): BulkheadIsolation {
    return BulkheadIsolation.preset('forCache', overrides, registry);
  }
  static forExternalApi(overrides?: PresetOverrides<BulkheadOptions>, registry?: ResilienceRegistry): BulkheadIsolation {
    return BulkheadIsolation.preset('forExternalApi', overrides, registry);
  }
  static aggressive(overrides?: PresetOverrides<BulkheadOptions>, registry?: ResilienceRegistry): BulkheadIsolation {
    return BulkheadIsolation.preset('aggressive', overrides, registry);
  }
  static conservative(overrides?: PresetOverrides<BulkheadOptions>, registry?: ResilienceRegistry): BulkheadIsolation {
    return BulkheadIsolation.preset('conservative', overrides, registry);
  }

  async execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    try {
      return await this.policy.execute(({ signal: s }) => fn(s), signal);
    } catch (error) {
      if (error instanceof CockatielRejected) {
        this.registry.bulkheadRejected(this.name);
        throw new BulkheadRejectedError(this.name, this.options.maxConcurrent, this.options.maxQueue);
      }
      throw error;
    }
  }

  getMetrics(): BulkheadMetrics {
    const activeCalls = this.options.maxConcurrent - this.policy.executionSlots;
    return { activeCalls, queueSize: this.options.maxQueue - this.policy.queueSlots, utilizationPercent: (activeCalls / this.options.maxConcurrent) * 100 };
  }

  snapshot(): BulkheadSnapshot {
    return { name: this.name, maxConcurrent: this.options.maxConcurrent, maxQueue: this.options.maxQueue, ...this.getMetrics() };
  }
}
