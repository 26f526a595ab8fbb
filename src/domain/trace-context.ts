/** W3C Trace Context (https://www.w3.org/TR/trace-context/): the caller's trace, carried with a task to its agent. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** The trace id a traceparent names (its second field). */
export function traceIdOf(context: TraceContext): string {
  return context.traceparent.split('-')[1]!;
}

/** version-traceid-parentid-flags; version ff is forbidden, all-zero ids are invalid. */
const TRACEPARENT = /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-[^\s]*)?$/u;
const MAX_TRACESTATE = 512;
const TRACESTATE = /^[\x20-\x7e]*$/u;

/**
 * The trace context of the headers, or undefined. As the specification asks, a malformed
 * traceparent is ignored (the work is not refused), and tracestate is read only with a valid one.
 */
export function parseTraceContext(traceparent: unknown, tracestate: unknown): TraceContext | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const parent = traceparent.trim();
  // Version 00 has exactly four fields; a later version may add fields after them.
  if (!TRACEPARENT.test(parent) || (parent.startsWith('00-') && parent.length !== 55)) return undefined;
  const state = typeof tracestate === 'string' ? tracestate.trim() : undefined;
  const validState = state !== undefined && state.length > 0 && state.length <= MAX_TRACESTATE && TRACESTATE.test(state);
  return validState ? { traceparent: parent, tracestate: state } : { traceparent: parent };
}
