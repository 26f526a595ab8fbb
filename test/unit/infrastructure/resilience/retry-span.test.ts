import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { afterAll, describe, expect, it } from 'vitest';
import { inSpan } from '../../../../src/application/tracing.js';
import { UnavailableError } from '../../../../src/domain/index.js';
import { startTracing } from '../../../../src/infrastructure/observability/tracing.js';
import { RetryPolicy } from '../../../../src/infrastructure/resilience/retry-policy.js';

describe('RetryPolicy and traces', () => {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ serviceName: 'test', version: 'test', exporter, processor: 'simple', env: {} });
  afterAll(() => tracing.shutdown());

  it('records each retry as an event on the active span, with the policy, attempt, delay and error', async () => {
    const policy = new RetryPolicy('database', { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 });
    let calls = 0;
    await inSpan('work', {}, undefined, () => policy.execute(() => (++calls < 3 ? Promise.reject(new UnavailableError('connection refused')) : 'ok')));
    const span = exporter.getFinishedSpans().find((s) => s.name === 'work')!;
    expect(span.events.map((e) => e.name)).toEqual(['retry', 'retry']);
    expect(span.events[1]!.attributes).toMatchObject({ 'retry.policy': 'database', 'retry.attempt': 2, 'exception.message': 'connection refused' });
    expect(typeof span.events[0]!.attributes!['retry.delay_ms']).toBe('number');
  });
});
