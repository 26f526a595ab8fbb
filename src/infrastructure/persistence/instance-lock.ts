import type { PostgresClient } from './postgres-client.js';

/**
 * Held by the instance that runs the queues and leases: the only one on its database without
 * NATS, the elected leader of many with it.
 */
export const INSTANCE_LOCK_KEY = 0x61676d74;

export class DatabaseInUseError extends Error {
  constructor(detail = 'another agentmesh instance is using this database') {
    super(`${detail}; without AGENTMESH_NATS_URL one instance runs per database (stop the other, give this one its own database, or set AGENTMESH_NATS_URL on every instance to run them as one mesh)`);
    this.name = 'DatabaseInUseError';
  }
}

export type InstanceLockEvent =
  /** A campaigning instance got the lock: it leads now. */
  | { kind: 'elected' }
  | { kind: 'lost'; error: Error }
  | { kind: 'regained' }
  /** Another instance took the database while this one was cut off: this one must stop. */
  | { kind: 'stolen'; error: DatabaseInUseError };

const RETRY_MS = 1_000;

/**
 * A session advisory lock that says "this instance runs the mesh's queues on this database". If its
 * connection dies (database restarted, network cut), the lock is taken again as soon as the
 * database answers; if another instance got it first, `stolen` is reported once.
 */
export class InstanceLock {
  private session: { pid: number; release(): Promise<void> } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private campaignTimer: NodeJS.Timeout | undefined;
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

  /**
   * Asks for the lock now and, while another instance holds it, again every `pollMs`; `elected`
   * is reported when it is got. Resolves after the first ask: true when this instance leads already.
   */
  static async campaign(db: PostgresClient, onEvent: (event: InstanceLockEvent) => void, pollMs: number): Promise<{ lock: InstanceLock; leading: boolean }> {
    const lock = new InstanceLock(db, onEvent);
    const leading = await lock.ask();
    if (!leading) lock.scheduleAsk(pollMs);
    return { lock, leading };
  }

  /** One try for the lock; an unreachable database counts as a no. */
  private async ask(): Promise<boolean> {
    try {
      const session = await this.db.tryAdvisoryLockSession(INSTANCE_LOCK_KEY, (error) => this.lost(error));
      if (this.closed) {
        await session?.release();
        return false;
      }
      this.session = session;
      return session !== undefined;
    } catch {
      return false;
    }
  }

  private scheduleAsk(pollMs: number): void {
    this.campaignTimer = setTimeout(() => {
      void this.ask().then((got) => {
        if (this.closed) return;
        if (got) this.onEvent({ kind: 'elected' });
        else this.scheduleAsk(pollMs);
      });
    }, pollMs);
    this.campaignTimer.unref();
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

  /** The server process of the session holding the lock; undefined while it is not held. */
  get pid(): number | undefined {
    return this.session?.pid;
  }

  async release(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.campaignTimer);
    await this.session?.release();
    this.session = undefined;
  }
}
