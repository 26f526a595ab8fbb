import { createRequire } from 'node:module';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  serviceName: string;
  logLevel: LogLevel;
  /** JSON lines (production), or colored lines for a person at a terminal. */
  format: 'json' | 'pretty';
  /** More paths to hide (pino redact paths), e.g. `body.input.email` for a logged request body. */
  redactPaths?: readonly string[];
  /** Where lines go; standard output by default. */
  destination?: DestinationStream;
}

export const REDACTED = '[redacted]';

const SECRET_FIELDS = ['authorization', 'apiKey', 'adminKey', 'key', 'secret', 'password', 'token'];
/** How deep in a line's fields they are looked for: `body.tasks[0].input.secret` is four levels down. */
const SECRET_DEPTH = 4;

/** Never logged, wherever they appear in a log line's fields, up to SECRET_DEPTH levels down (arrays included). */
const ALWAYS_REDACTED = SECRET_FIELDS.flatMap((field) => Array.from({ length: SECRET_DEPTH + 1 }, (_, depth) => [...Array<string>(depth).fill('*'), field].join('.')));

function traceFields(): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  // While tracing is off, spans are the API's no-op ones, with an invalid context: nothing to name.
  return spanContext && isSpanContextValid(spanContext) ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {};
}

/** The seed's logger: pino with the service's name, secrets redacted, JSON or pretty. Child loggers per component share it. */
export function configureLogger(options: LoggerOptions): Logger {
  const settings: pino.LoggerOptions = {
    level: options.logLevel,
    base: { service: options.serviceName },
    // A line written inside a span (a request, a task's step) says which: trace_id and span_id.
    mixin: traceFields,
    redact: { paths: [...ALWAYS_REDACTED, ...(options.redactPaths ?? [])], censor: REDACTED },
  };
  if (options.destination) return pino(settings, options.destination);
  if (options.format === 'pretty') {
    // In-process (not a worker transport), so a line is written before the process exits.
    return pino(settings, pinoPrettyStream());
  }
  return pino(settings);
}

function pinoPrettyStream(): DestinationStream {
  // Loaded only for the pretty format: production never pays for it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: object) => DestinationStream;
  return pretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}
