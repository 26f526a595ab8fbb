import type { Logger } from '../../application/logger.js';
import type { CountWindow, SharedCounters, WindowAddition } from '../../application/ports.js';
import { UnavailableError } from '../../domain/index.js';
import { InMemoryCounters } from './in-memory-counters.js';

/**
 * The shared counters (Redis), and this instance's own while they are unavailable: rate limits
 * and quotas keep counting, per instance, instead of failing requests or letting them through
 * uncounted. `degraded` says which one answers now.
 */
export class FallbackCounters implements SharedCounters {
  private readonly local = new InMemoryCounters();
  degraded = false;
  /** Counts answered locally since start. */
  localCounts = 0;

  constructor(
    private readonly shared: SharedCounters,
    private readonly logger: Logger,
  ) {}

  /** Windows counted in this instance's memory (bounded at 100,000). */
  get localWindows(): number {
    return this.local.size;
  }

  async add(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<number> {
    return (await this.addInWindow(tenantId, name, windowMs, amount, now)).total;
  }

  async total(tenantId: string, name: string, windowMs: number, now: number): Promise<number> {
    return (await this.addInWindow(tenantId, name, windowMs, 0, now)).total;
  }

  addInWindow(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<CountWindow> {
    return this.either(
      () => this.shared.addInWindow(tenantId, name, windowMs, amount, now),
      () => this.local.addInWindow(tenantId, name, windowMs, amount, now),
    );
  }

  addInWindows(tenantId: string, additions: readonly WindowAddition[], now: number): Promise<CountWindow[]> {
    return this.either(
      () => this.shared.addInWindows(tenantId, additions, now),
      () => this.local.addInWindows(tenantId, additions, now),
    );
  }

  private async either<T>(shared: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    try {
      const counted = await shared();
      if (this.degraded) {
        this.degraded = false;
        this.logger.info({}, 'shared counters are back: rate limits count across instances again');
      }
      return counted;
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
      if (!this.degraded) {
        this.degraded = true;
        this.logger.warn({ err: error }, 'shared counters unavailable: rate limits and quotas count on this instance alone until Redis returns');
      }
      this.localCounts++;
      return local();
    }
  }
}
