/** Domain errors carry a stable code; the API maps each code to an HTTP status and problem type. */
export type DomainErrorCode =
  | 'validation'
  | 'not_found'
  | 'conflict'
  | 'lease_not_held'
  | 'invalid_state'
  | 'quota_exceeded'
  | 'payload_too_large'
  | 'unauthorized'
  | 'forbidden'
  | 'gone'
  | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, readonly field?: string) {
    super('validation', message, field ? { field } : {});
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends DomainError {
  constructor(kind: string, id: string) {
    super('not_found', `${kind} '${id}' was not found`, { kind, id });
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('conflict', message, details);
    this.name = 'ConflictError';
  }
}

export class LeaseNotHeldError extends DomainError {
  constructor(taskId: string, agentId: string) {
    super('lease_not_held', `agent '${agentId}' does not hold the lease on task '${taskId}'`, { taskId, agentId });
    this.name = 'LeaseNotHeldError';
  }
}

export class InvalidStateError extends DomainError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('invalid_state', message, details);
    this.name = 'InvalidStateError';
  }
}

export class QuotaExceededError extends DomainError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('quota_exceeded', message, details);
    this.name = 'QuotaExceededError';
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(what: string, limitBytes: number, actualBytes: number) {
    super('payload_too_large', `${what} is ${actualBytes} bytes, over the limit of ${limitBytes} bytes`, {
      limitBytes,
      actualBytes,
    });
    this.name = 'PayloadTooLargeError';
  }
}

/** Optimistic concurrency: an aggregate changed between read and write. */
export class ConcurrencyError extends ConflictError {
  constructor(aggregateId: string, expectedVersion: number) {
    super(`'${aggregateId}' was changed concurrently (expected version ${expectedVersion})`, {
      aggregateId,
      expectedVersion,
    });
    this.name = 'ConcurrencyError';
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message = 'a valid API key is required') {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

export class ForbiddenError extends DomainError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('forbidden', message, details);
    this.name = 'ForbiddenError';
  }
}

/** A bounded queue or buffer is full, or a dependency is down: try again later. */
export class UnavailableError extends DomainError {
  constructor(message: string, readonly retryAfterSeconds = 1) {
    super('unavailable', message, { retryAfterSeconds });
    this.name = 'UnavailableError';
  }
}

/** It existed, and can never be had again: a secret whose tenant key was destroyed. */
export class GoneError extends DomainError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('gone', message, details);
    this.name = 'GoneError';
  }
}
