import type { PostgresClient } from './postgres-client.js';

/** Held for the life of an instance: this build's queues and leases live in one process. */
export const INSTANCE_LOCK_KEY = 0x61676d74;

export class DatabaseInUseError extends Error {
  constructor(detail = 'another agentmesh instance is using this database') {
    super(`${detail}; this build runs one instance per database (stop the other, or give this one its own database)`);
    this.name = 'DatabaseInUseError';
  }
}

export type InstanceLockEvent =
  | { kind: 'lost'; error: Error }
  | { kind: 'regained' }
  /** Another instance took the database while this one was cut off: this one must stop. */
  | { kind: 'stolen'; error: DatabaseInUseError };

const RETRY_MS = 1_000;

/**
 * A session advisory lock that says "this database belongs to one running instance". If its
 * connection dies (database restarted, network cut), the lock is taken again as soon as the
 * database answers; if another instance got it first, `stolen` is reported once.
 */
export class InstanceLock {
  private session: { release(): Promise<void> } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly db: PostgresClient,
    private readonly onEvent: (event: InstanceLockEvent) => void,
  ) {}

  static async acquire(db: PostgresClient, onEvent: (event: InstanceLockEvent) => void = () => {}): Promise<InstanceLock> {
    const lock = new InstanceLock(db, onEvent);
    lock.session = await db.tryAdvisoryLockSession(INSTANCE_LOCK_KEY, (error) => lock.lost(error));
    if (!lock.session) throw new DatabaseInUseError();
    return lock;
  }

  private lost(error: Error): void {
    if (this.closed || !this.session) return;
    this.session = undefined;
    this.onEvent({ kind: 'lost', error });
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.retryTimer = setTimeout(() => void this.retake(), RETRY_MS);
    this.retryTimer.unref();
  }

  private async retake(): Promise<void> {
    if (this.closed) return;
    try {
      const session = await this.db.tryAdvisoryLockSession(INSTANCE_LOCK_KEY, (error) => this.lost(error));
      if (this.closed) return void (await session?.release());
      if (!session) return this.onEvent({ kind: 'stolen', error: new DatabaseInUseError('another agentmesh instance took over this database while this one was cut off from it') });
      this.session = session;
      this.onEvent({ kind: 'regained' });
    } catch {
      this.scheduleRetry();
    }
  }

  async release(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.session?.release();
    this.session = undefined;
  }
}
