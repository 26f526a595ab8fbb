import { describe, expect, it } from 'vitest';
import { UnavailableError, ValidationError } from '../../../../src/domain/index.js';
import { BulkheadRejectedError, CircuitBreakerOpenError } from '../../../../src/infrastructure/resilience/errors.js';
import { ResilienceRegistry } from '../../../../src/infrastructure/resilience/observer.js';
import { RetryPolicy } from '../../../../src/infrastructure/resilience/retry-policy.js';

describe('RetryPolicy', () => {
  it('tries a transient failure again, up to maxAttempts in all, and reports each retry', async () => {
    const registry = new ResilienceRegistry();
    const retries: Array<[number, number]> = [];
    registry.listen({ retried: (_name, attempt, delayMs) => retries.push([attempt, delayMs]) });
    const policy = new RetryPolicy('db', { maxAttempts: 4, initialDelayMs: 5, maxDelayMs: 40 }, registry);
    const attempts: number[] = [];
    const error = await policy
      .execute((attempt) => {
        attempts.push(attempt);
        throw new UnavailableError(`down ${attempt}`);
      })
      .catch((e: unknown) => e);
    expect(attempts).toEqual([0, 1, 2, 3]);
    expect((error as Error).message).toBe('down 3');
    expect(retries.map(([attempt]) => attempt)).toEqual([1, 2, 3]);
    // Full jitter: each wait lies between 0 and its exponential ceiling, never above the cap.
    for (const [, delay] of retries) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(40);
    }
  });

  it('returns the first success', async () => {
    const policy = new RetryPolicy('db', { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 });
    let calls = 0;
    expect(await policy.execute(() => (++calls < 3 ? Promise.reject(new UnavailableError('x')) : 'ok'))).toBe('ok');
    expect(calls).toBe(3);
  });

  it('does not retry what another try cannot mend: a caller mistake, an open breaker, a full bulkhead', async () => {
    const policy = new RetryPolicy('db', { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 });
    for (const error of [new ValidationError('bad'), new CircuitBreakerOpenError('db', 1000), new BulkheadRejectedError('db', 1, 1), new Error('a bug')]) {
      let calls = 0;
      await expect(
        policy.execute(() => {
          calls++;
          throw error;
        }),
      ).rejects.toBe(error);
      expect(calls).toBe(1);
    }
  });

  it('spreads the waits of many callers (full jitter), within the exponential ceilings', async () => {
    const registry = new ResilienceRegistry();
    const firstDelays: number[] = [];
    registry.listen({ retried: (_n, attempt, delayMs) => attempt === 1 && firstDelays.push(delayMs) });
    const policy = new RetryPolicy('db', { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 1_000 }, registry);
    await Promise.all(Array.from({ length: 40 }, () => policy.execute(() => Promise.reject(new UnavailableError('x'))).catch(() => {})));
    expect(firstDelays).toHaveLength(40);
    expect(Math.max(...firstDelays)).toBeLessThanOrEqual(20);
    expect(new Set(firstDelays.map((d) => Math.round(d))).size).toBeGreaterThan(5);
  });

  it('a custom classification decides what is retried; the seed presets exist', async () => {
    const policy = RetryPolicy.forDatabase({ maxAttempts: 3, initialDelayMs: 1, isRetryable: (e) => e.message === 'again' });
    let calls = 0;
    await expect(policy.execute(() => Promise.reject(new Error(++calls < 3 ? 'again' : 'stop')))).rejects.toThrow('stop');
    expect(calls).toBe(3);
    expect(RetryPolicy.forMessageBroker().name).toBe('message_broker');
    expect(RetryPolicy.conservative().options.maxAttempts).toBeGreaterThan(RetryPolicy.aggressive().options.maxAttempts);
  });
});
