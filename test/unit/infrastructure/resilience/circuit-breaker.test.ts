import { describe, expect, it } from 'vitest';
import { UnavailableError, ValidationError } from '../../../../src/domain/index.js';
import { CircuitBreaker } from '../../../../src/infrastructure/resilience/circuit-breaker.js';
import { DependencyPolicy } from '../../../../src/infrastructure/resilience/dependency-policy.js';
import { CircuitBreakerOpenError } from '../../../../src/infrastructure/resilience/errors.js';
import { ResilienceRegistry, type BreakerState } from '../../../../src/infrastructure/resilience/observer.js';

const down = () => Promise.reject(new UnavailableError('connection refused'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function watched() {
  const registry = new ResilienceRegistry();
  const transitions: Array<[BreakerState, BreakerState, string | undefined]> = [];
  registry.listen({ breakerTransition: (_name, from, to, cause) => transitions.push([from, to, cause?.message]) });
  return { registry, transitions };
}

describe('CircuitBreaker', () => {
  it('opens after the failures in a row, then fails fast with the cause that opened it and a Retry-After', async () => {
    const { registry, transitions } = watched();
    const breaker = new CircuitBreaker('db', { consecutiveFailures: 3, halfOpenAfterMs: 10_000 }, registry);
    for (let i = 0; i < 3; i++) await expect(breaker.call(down)).rejects.toThrow('connection refused');
    expect(breaker.state).toBe('open');
    let called = false;
    const refused = await breaker.call(() => (called = true)).catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(refused).toBeInstanceOf(CircuitBreakerOpenError);
    expect(refused).toBeInstanceOf(UnavailableError);
    const error = refused as CircuitBreakerOpenError;
    expect(error.policy).toBe('db');
    expect((error.cause as Error).message).toBe('connection refused');
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(9);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(10);
    expect(transitions).toEqual([['closed', 'open', 'connection refused']]);
    expect(registry.breakerStates()).toEqual([{ name: 'db', state: 'open' }]);
  });

  it('a success between failures resets the count', async () => {
    const breaker = new CircuitBreaker('db', { consecutiveFailures: 3, halfOpenAfterMs: 10_000 });
    for (let i = 0; i < 10; i++) {
      await expect(breaker.call(down)).rejects.toThrow();
      await expect(breaker.call(down)).rejects.toThrow();
      await breaker.call(() => 'ok');
    }
    expect(breaker.state).toBe('closed');
  });

  it('errors the caller caused do not count against the dependency', async () => {
    const breaker = new CircuitBreaker('db', { consecutiveFailures: 2, halfOpenAfterMs: 10_000, isFailure: (e) => e instanceof UnavailableError });
    for (let i = 0; i < 10; i++) await expect(breaker.call(() => Promise.reject(new ValidationError('bad')))).rejects.toBeInstanceOf(ValidationError);
    expect(breaker.state).toBe('closed');
  });

  it('lets one probe through after the cool-down: success closes it', async () => {
    const { registry, transitions } = watched();
    const breaker = new CircuitBreaker('db', { consecutiveFailures: 1, halfOpenAfterMs: 50 }, registry);
    await expect(breaker.call(down)).rejects.toThrow();
    await expect(breaker.call(() => 1)).rejects.toBeInstanceOf(CircuitBreakerOpenError);
    await sleep(70);
    expect(breaker.retryAfterMs()).toBe(0);
    let release!: () => void;
    const probe = breaker.call(() => new Promise<string>((r) => (release = () => r('probed'))));
    expect(breaker.state).toBe('half-open');
    // While the probe runs, the others still fail fast.
    await expect(breaker.call(() => 2)).rejects.toBeInstanceOf(CircuitBreakerOpenError);
    release();
    expect(await probe).toBe('probed');
    expect(breaker.state).toBe('closed');
    expect(await breaker.call(() => 3)).toBe(3);
    expect(transitions.map(([from, to]) => `${from}>${to}`)).toEqual(['closed>open', 'open>half-open', 'half-open>closed']);
  });

  it('a failed probe opens it again', async () => {
    const breaker = new CircuitBreaker('db', { consecutiveFailures: 1, halfOpenAfterMs: 30 });
    await expect(breaker.call(down)).rejects.toThrow();
    await sleep(50);
    await expect(breaker.call(down)).rejects.toThrow('connection refused');
    expect(breaker.state).toBe('open');
    await expect(breaker.call(() => 1)).rejects.toBeInstanceOf(CircuitBreakerOpenError);
  });

  it('opens on a failure rate over a window when so configured', async () => {
    const breaker = new CircuitBreaker('api', { failureRate: { threshold: 0.5, windowMs: 1_000, minimumCalls: 10 }, halfOpenAfterMs: 10_000 });
    for (let i = 0; i < 20; i++) await breaker.call(i % 2 === 0 ? down : () => 'ok').catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('isolate holds it open until released; the seed presets exist with their names', async () => {
    const breaker = CircuitBreaker.forDatabase();
    expect(breaker.name).toBe('database');
    const handle = breaker.isolate();
    await expect(breaker.call(() => 1)).rejects.toBeInstanceOf(CircuitBreakerOpenError);
    handle.dispose();
    expect(await breaker.call(() => 1)).toBe(1);
    expect(CircuitBreaker.forMessageBroker().options.halfOpenAfterMs).toBeGreaterThan(0);
    expect(CircuitBreaker.forExternalApi({ name: 'payments' }).name).toBe('payments');
    expect(CircuitBreaker.aggressive().options.consecutiveFailures).toBeLessThan(CircuitBreaker.conservative().options.consecutiveFailures!);
  });
});

describe('ResilienceRegistry.remove', () => {
  it("drops a gone dependency's breaker and bulkhead, and no other's", () => {
    const registry = new ResilienceRegistry();
    DependencyPolicy.preset('forExternalApi', 'a2a:t/gone', registry);
    DependencyPolicy.preset('forExternalApi', 'a2a:t/kept', registry);
    registry.remove('a2a:t/gone');
    expect(registry.breakerStates().map((b) => b.name)).toEqual(['a2a:t/kept']);
    expect(registry.bulkheadStates().map((b) => b.name)).toEqual(['a2a:t/kept']);
  });
});
