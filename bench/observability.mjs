// The cost of observability: one log line, one metric update, one span, each against the bare
// library in the same run; and end-to-end tasks/s with logs (info, to /dev/null), metrics and
// tracing (100 % sampled, batched as in production, exported to nowhere) on, against the same run
// with them off. Metrics cannot be turned off: both runs have them, so the ratio is logs and tracing.
import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { Bench } from 'tinybench';
import { inSpan } from '../dist/application/tracing.js';
import { submitTask } from '../dist/domain/index.js';
import { configureLogger } from '../dist/infrastructure/observability/logger.js';
import { AgentMeshMetrics } from '../dist/infrastructure/observability/metrics.js';
import { startTracing } from '../dist/infrastructure/observability/tracing.js';
import { measurePeak } from './e2e-threads.mjs';

/** Spans are made and batched as in production, then dropped instead of sent. */
const discard = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };

const micros = (task) => task.result.latency.mean * 1000;

export async function measureObservabilityCosts() {
  const devNull = () => pino.destination({ dest: '/dev/null', sync: false });
  const bare = pino({ level: 'info' }, devNull());
  const configured = configureLogger({ serviceName: 'agentmesh', logLevel: 'info', format: 'json', redactPaths: ['body.input.email'], destination: devNull() });
  const registry = new Registry();
  const bareCounter = new Counter({ name: 'bare_total', help: 'bare', labelNames: ['tenant', 'capability', 'strategy'], registers: [registry] });
  const bareHistogram = new Histogram({ name: 'bare_seconds', help: 'bare', labelNames: ['tenant', 'capability', 'strategy'], registers: [registry] });
  const metrics = new AgentMeshMetrics();
  const task = submitTask({ id: '0190a1b2-c3d4-7e5f-8a9b-000000000001', tenantId: 'acme', capability: 'summarize' }, 1).task;
  const tracing = startTracing({ serviceName: 'bench', version: 'bench', exporter: discard });
  const tracer = trace.getTracer('bare');
  const line = { task_id: task.id, tenant_id: 'acme', attempt: 1 };
  const bench = new Bench({ time: 500 });
  bench
    .add('log line, bare pino', () => bare.info(line, 'task routed'))
    .add('log line, configureLogger (redaction, trace fields)', () => configured.info(line, 'task routed'))
    .add('metric update, bare prom-client (counter + histogram)', () => {
      const labels = { tenant: 'acme', capability: 'summarize', strategy: 'round_robin' };
      bareCounter.inc(labels);
      bareHistogram.observe(labels, 0.005);
    })
    .add('metric update, AgentMeshMetrics.taskRouted', () => metrics.taskRouted(task, 5))
    .add('span, bare tracer', () => tracer.startSpan('bare').end())
    .add('span, inSpan', () => inSpan('agentmesh.bench', {}, undefined, async () => undefined));
  await bench.run();
  await tracing.shutdown();
  const [bareLog, log, bareMetric, metric, bareSpan, span] = bench.tasks.map(micros);
  return { bareLog, log, bareMetric, metric, bareSpan, span };
}

/**
 * Tasks/s with everything on, and with it off, in one run: off, on, on, off, so that the machine's
 * drift over the run falls on both alike (a single pair measured the drift as often as the cost).
 */
export async function measureObservabilityEndToEnd({ total }) {
  const runs = { on: [], off: [] };
  for (const on of [false, true, true, false]) {
    if (!on) {
      runs.off.push((await measurePeak({ total })).tasksPerSecond);
      continue;
    }
    const tracing = startTracing({ serviceName: 'bench', version: 'bench', exporter: discard });
    try {
      const logger = configureLogger({ serviceName: 'agentmesh', logLevel: 'info', format: 'json', destination: pino.destination({ dest: '/dev/null', sync: false }) });
      runs.on.push((await measurePeak({ total, logger })).tasksPerSecond);
    } finally {
      await tracing.shutdown();
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { off: mean(runs.off), on: mean(runs.on), ratio: mean(runs.on) / mean(runs.off) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await measureObservabilityCosts());
  console.log(await measureObservabilityEndToEnd({ total: Number(process.argv[2] ?? 5000) }));
  process.exit(0);
}
