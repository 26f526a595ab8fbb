import type { Logger } from '../../application/logger.js';
import { silentLogger } from '../../application/logger.js';

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** What a named policy shows at a scrape. */
export interface BreakerSnapshot {
  name: string;
  state: BreakerState;
}
export interface BulkheadMetrics {
  activeCalls: number;
  queueSize: number;
  utilizationPercent: number;
}
export interface BulkheadSnapshot extends BulkheadMetrics {
  name: string;
  maxConcurrent: number;
  maxQueue: number;
}

/** What the policies report as they work: metrics and logs subscribe here. */
export interface ResilienceListener {
  breakerTransition?(name: string, from: BreakerState, to: BreakerState, cause: Error | undefined): void;
  retried?(name: string, attempt: number, delayMs: number, cause: Error): void;
  bulkheadRejected?(name: string): void;
  timedOut?(name: string): void;
}

/**
 * Where a process's named policies report: the policies of its dependencies (a fixed few, named
 * by the code, so metric labels stay bounded) register here for the scrape, and every transition,
 * retry, rejection and timeout goes to the listeners and to the log.
 */
export class ResilienceRegistry {
  private readonly breakers = new Map<string, () => BreakerSnapshot>();
  private readonly bulkheads = new Map<string, () => BulkheadSnapshot>();
  private readonly listeners: ResilienceListener[] = [];

  constructor(
    private readonly logger: Logger = silentLogger,
    /** false: the dependency policies pass every call straight through (to measure what they cost; never in production). */
    readonly enabled = true,
  ) {}

  addBreaker(name: string, snapshot: () => BreakerSnapshot): void {
    this.breakers.set(name, snapshot);
  }

  addBulkhead(name: string, snapshot: () => BulkheadSnapshot): void {
    this.bulkheads.set(name, snapshot);
  }

  /** Drops a policy's breaker and bulkhead (what they guarded is gone), so that the registry holds only live ones. */
  remove(name: string): void {
    this.breakers.delete(name);
    this.bulkheads.delete(name);
  }

  listen(listener: ResilienceListener): void {
    this.listeners.push(listener);
  }

  breakerStates(): BreakerSnapshot[] {
    return [...this.breakers.values()].map((snapshot) => snapshot());
  }

  bulkheadStates(): BulkheadSnapshot[] {
    return [...this.bulkheads.values()].map((snapshot) => snapshot());
  }

  breakerTransition(name: string, from: BreakerState, to: BreakerState, cause: Error | undefined): void {
    const fields = { policy: name, from, to, ...(cause && { cause: cause.message }) };
    if (to === 'open') this.logger.warn(fields, `circuit breaker ${name} opened: calls fail fast until a probe succeeds`);
    else if (to === 'closed') this.logger.info(fields, `circuit breaker ${name} closed: calls flow again`);
    else this.logger.info(fields, `circuit breaker ${name} is ${to}`);
    for (const l of this.listeners) l.breakerTransition?.(name, from, to, cause);
  }

  retried(name: string, attempt: number, delayMs: number, cause: Error): void {
    this.logger.debug({ policy: name, attempt, delayMs, cause: cause.message }, `retrying a call to ${name}`);
    for (const l of this.listeners) l.retried?.(name, attempt, delayMs, cause);
  }

  bulkheadRejected(name: string): void {
    for (const l of this.listeners) l.bulkheadRejected?.(name);
  }

  timedOut(name: string): void {
    for (const l of this.listeners) l.timedOut?.(name);
  }
}

/** For policies nobody watches (tests, one-off tools). */
export const unobserved = (): ResilienceRegistry => new ResilienceRegistry();
