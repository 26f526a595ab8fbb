export interface TurnLoopOptions {
  /** A turn that took this many items takes the next at once. */
  batch: number;
  /** Pause after a turn that took less. */
  idleMs: number;
  /** Longest pause after failures in a row (the pause doubles from idleMs). */
  maxBackoffMs: number;
}

export interface TurnLoopEvents {
  /** A turn threw; `inARow` counts failures since the last success (1 for the first). */
  failed(error: unknown, inARow: number): void;
  /** A turn succeeded after failures. */
  recovered(taken: number): void;
}

/**
 * A background worker that takes turns: the next at once while turns take full batches, after
 * `idleMs` when one took less, with capped exponential backoff after failures. `stop` wakes it
 * and waits for the turn in progress.
 */
export class TurnLoop {
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly options: TurnLoopOptions,
    private readonly turn: () => Promise<number>,
    private readonly events: TurnLoopEvents,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let taken = 0;
      try {
        taken = await this.turn();
        if (failures > 0) this.events.recovered(taken);
        failures = 0;
      } catch (error) {
        failures++;
        this.events.failed(error, failures);
      }
      if (this.stopped) break;
      if (taken < this.options.batch || failures > 0) {
        await this.pause(failures > 0 ? Math.min(this.options.maxBackoffMs, this.options.idleMs * 2 ** failures) : this.options.idleMs);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
