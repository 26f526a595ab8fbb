import type { Logger } from '../../application/logger.js';

const MAX_PENDING = 10_000;

/**
 * Work that must happen eventually (an invalidation the shared tier or the bus missed), tried
 * again every `intervalMs` until it succeeds. Bounded: past `MAX_PENDING` the oldest is given up
 * (its entry still expires with its TTL), with a warning.
 */
export class RetryQueue {
  private readonly pending: Array<{ run: () => Promise<void>; done: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Work given up at the bound since start. */
  givenUp = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 1_000,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  /** `done` is called once `run` has succeeded, or was given up. */
  add(run: () => Promise<void>, done: () => void = () => {}): void {
    this.pending.push({ run, done });
    if (this.pending.length > MAX_PENDING) {
      this.pending.shift()!.done();
      this.givenUp++;
      this.logger.warn({ pending: MAX_PENDING }, 'too many cache invalidations waiting for the shared tier: gave up the oldest (its entry expires with its TTL)');
    }
    this.timer ??= setInterval(() => void this.runAll(), this.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async runAll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const next = this.pending[0]!;
        try {
          await next.run();
        } catch {
          return; // still unavailable: the next tick tries again, in order
        }
        this.pending.shift();
        next.done();
      }
      this.stop();
    } finally {
      this.running = false;
    }
  }
}
