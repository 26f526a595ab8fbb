/** An API answer that was not a success, carrying the RFC 9457 problem the server sent. */
export class AgentMeshError extends Error {
  /**
   * How long the server asked to wait before trying again, in ms: its `Retry-After` header
   * (seconds or an HTTP date), else the problem's `retryAfterSeconds` (batch items have no headers).
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly problem: Record<string, unknown> = {},
    retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'AgentMeshError';
    const fromProblem = typeof problem.retryAfterSeconds === 'number' && problem.retryAfterSeconds >= 0 ? problem.retryAfterSeconds * 1000 : undefined;
    this.retryAfterMs = retryAfterMs ?? fromProblem;
  }

  /** Worth retrying: the server was unavailable, overloaded, or failed. */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** The error for a problem+json answer (a whole response's, or one batch item's): `<status> <detail>`. */
export function errorFromProblem(status: number, problem: Record<string, unknown>, fallbackDetail: string, retryAfterMs?: number): AgentMeshError {
  const detail = typeof problem.detail === 'string' ? problem.detail : fallbackDetail;
  return new AgentMeshError(status, typeof problem.type === 'string' ? problem.type : 'about:blank', `${status} ${detail}`, problem, retryAfterMs);
}

/** A Retry-After header in ms: delay-seconds, or an HTTP date (0 when it has passed); undefined when absent or malformed. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/u.test(text)) return Math.round(Number(text) * 1000);
  // An IMF-fixdate names its day and month: "-3" or "2" with junk is no date.
  const date = /[a-z]{3}/iu.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Throw from a handler to fail the task without further attempts. */
export class NonRetryableError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

/** The reason of a handler's `ctx.signal` when the mesh no longer wants the attempt: the task was canceled, passed its deadline, or its lease moved on. */
export class TaskWithdrawnError extends Error {
  constructor(
    readonly taskId: string,
    cause: AgentMeshError,
  ) {
    super(`task '${taskId}' is no longer this agent's: ${cause.message}`, { cause });
    this.name = 'TaskWithdrawnError';
  }
}
