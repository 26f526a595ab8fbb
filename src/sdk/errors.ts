/** An API answer that was not a success, carrying the RFC 9457 problem the server sent. */
export class AgentMeshError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly problem: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AgentMeshError';
  }

  /** Worth retrying: the server was unavailable, overloaded, or failed. */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** The error for a problem+json answer (a whole response's, or one batch item's): `<status> <detail>`. */
export function errorFromProblem(status: number, problem: Record<string, unknown>, fallbackDetail: string): AgentMeshError {
  const detail = typeof problem.detail === 'string' ? problem.detail : fallbackDetail;
  return new AgentMeshError(status, typeof problem.type === 'string' ? problem.type : 'about:blank', `${status} ${detail}`, problem);
}

/** Throw from a handler to fail the task without further attempts. */
export class NonRetryableError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}
