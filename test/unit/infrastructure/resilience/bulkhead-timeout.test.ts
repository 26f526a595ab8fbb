import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../src/domain/index.js';
import { BulkheadIsolation } from '../../../../src/infrastructure/resilience/bulkhead.js';
import { DependencyPolicy } from '../../../../src/infrastructure/resilience/dependency-policy.js';
import { BulkheadRejectedError, CircuitBreakerOpenError, DependencyTimeoutError } from '../../../../src/infrastructure/resilience/errors.js';
import { ResilienceRegistry } from '../../../../src/infrastructure/resilience/observer.js';
import { TimeoutPolicy } from '../../../../src/infrastructure/resilience/timeout-policy.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('BulkheadIsolation', () => {
  it('runs maxConcurrent at once, queues a bounded few, refuses the rest, and says so in its metrics', async () => {
    const registry = new ResilienceRegistry();
    let rejected = 0;
    registry.listen({ bulkheadRejected: () => rejected++ });
    const bulkhead = BulkheadIsolation.forDatabase({ maxConcurrent: 2, maxQueue: 1 }, registry);
    const { opened, open } = gate();
    let running = 0;
    let peak = 0;
    const work = () =>
      bulkhead.execute(async () => {
        peak = Math.max(peak, ++running);
        await opened;
        running--;
        return 'done';
      });
    const accepted = [work(), work(), work()];
    const refused = await work().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BulkheadRejectedError);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect(rejected).toBe(1);
    expect(bulkhead.getMetrics()).toEqual({ activeCalls: 2, queueSize: 1, utilizationPercent: 100 });
    expect(registry.bulkheadStates()).toEqual([{ name: 'database', maxConcurrent: 2, maxQueue: 1, activeCalls: 2, queueSize: 1, utilizationPercent: 100 }]);
    open();
    expect(await Promise.all(accepted)).toEqual(['done', 'done', 'done']);
    expect(peak).toBe(2);
    expect(bulkhead.getMetrics()).toEqual({ activeCalls: 0, queueSize: 0, utilizationPercent: 0 });
  });
});

describe('TimeoutPolicy', () => {
  it('gives up at the deadline with DependencyTimeoutError, and answers in time otherwise', async () => {
    let timeouts = 0;
    const registry = new ResilienceRegistry();
    registry.listen({ timedOut: () => timeouts++ });
    const policy = new TimeoutPolicy('db', 30, registry);
    const started = Date.now();
    const error = await policy.execute(() => new Promise((resolve) => setTimeout(resolve, 1_000))).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(900);
    expect(error).toBeInstanceOf(DependencyTimeoutError);
    expect((error as DependencyTimeoutError).message).toContain('30 ms');
    expect(timeouts).toBe(1);
    expect(await policy.execute(() => 'quick')).toBe('quick');
    await expect(policy.execute(() => Promise.reject(new Error('own failure')))).rejects.toThrow('own failure');
    await expect(
      policy.execute(() => {
        throw new Error('thrown at once');
      }),
    ).rejects.toThrow('thrown at once');
    expect(timeouts).toBe(1);
  });

  it("hands the caller's signal to the call", async () => {
    const controller = new AbortController();
    const seen = await new TimeoutPolicy('db', 1_000).execute((signal) => signal, controller.signal);
    expect(seen).toBe(controller.signal);
  });
});

describe('DependencyPolicy', () => {
  it('retries a transient failure within the breaker, then fails fast once it opened', async () => {
    const policy = DependencyPolicy.preset('forDatabase', 'db', undefined, { breaker: { consecutiveFailures: 4 }, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 } });
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new UnavailableError('refused'));
    };
    await expect(policy.execute(failing)).rejects.toThrow('refused');
    expect(calls).toBe(2);
    await expect(policy.execute(failing)).rejects.toThrow('refused');
    expect(calls).toBe(4);
    expect(policy.breaker.state).toBe('open');
    await expect(policy.execute(failing)).rejects.toBeInstanceOf(CircuitBreakerOpenError);
    expect(calls).toBe(4);
  });

  it('does not repeat a call marked unsafe to repeat', async () => {
    const policy = DependencyPolicy.preset('forDatabase', 'db', undefined, { retry: { initialDelayMs: 1 } });
    let calls = 0;
    await expect(
      policy.execute(
        () => {
          calls++;
          return Promise.reject(new UnavailableError('connection terminated'));
        },
        { retry: false },
      ),
    ).rejects.toThrow();
    expect(calls).toBe(1);
  });

  it('a slow dependency times out per try and its bulkhead bounds what waits on it', async () => {
    const policy = DependencyPolicy.preset('aggressive', 'slow', undefined, { timeoutMs: 20, bulkhead: { maxConcurrent: 2, maxQueue: 2 }, retry: { maxAttempts: 1 } });
    const slow = () => new Promise((r) => setTimeout(r, 500));
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => policy.execute(slow)));
    const reasons = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).name : 'ok'));
    expect(reasons.filter((r) => r === 'BulkheadRejectedError')).toHaveLength(2);
    expect(reasons.filter((r) => r === 'DependencyTimeoutError' || r === 'CircuitBreakerOpenError')).toHaveLength(4);
  });
});
