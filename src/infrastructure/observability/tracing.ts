import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-node';

type Env = Record<string, string | undefined>;

export interface Tracing {
  /** Exports what is pending, then stops tracing in this process. */
  shutdown(): Promise<void>;
}

/**
 * Registers the OpenTelemetry SDK for this process: W3C trace context, async context, and spans
 * exported over OTLP/HTTP (or to `exporter`). The standard OTEL_* variables apply: service name
 * and resource attributes, sampler (OTEL_TRACES_SAMPLER, default parent-based always-on), endpoint,
 * headers, batch sizes.
 */
export function startTracing(options: {
  serviceName: string;
  version: string;
  /** Where spans go instead of OTLP (tests, benchmarks). */
  exporter?: SpanExporter;
  /** 'simple' exports each span as it ends (tests); 'batch' (default) as in production. */
  processor?: 'simple' | 'batch';
  env?: Env;
}): Tracing {
  const env = options.env ?? process.env;
  const resource = resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? options.serviceName, 'service.version': options.version }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const exporter = options.exporter ?? new OTLPTraceExporter();
  const processor = options.processor === 'simple' ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
