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

/** Throw from a handler to fail the task without further attempts. */
export class NonRetryableError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}
