import type { Logger } from './logger.js';
import { PLAIN } from '../domain/plain.js';

/**
 * One error line per interval for a failure that repeats with every request while a dependency
 * is away: the first in full, at once; the others counted, and said in one line when the interval
 * ends (`repeats`, with the last one's fields). A database outage under load otherwise wrote an
 * error of ~3 KB (its cause chain) for every failed write: hundreds a second.
 */
export class RepeatedErrorLog {
  private quietUntil = 0;
  private repeats = 0;
  private last: object | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Pick<Logger, 'error'>,
    private readonly message: string,
    private readonly intervalMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  error(fields: object): void {
    const now = this.now();
    if (now >= this.quietUntil) {
      this.quietUntil = now + this.intervalMs;
      this.logger.error(fields, this.message);
      return;
    }
    this.repeats++;
    this.last = fields;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.quietUntil - now);
      this.timer.unref();
    }
  }

  /** Says how many repeated since the last line (the end of an interval, or a shutdown). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.repeats === 0) return;
    this.logger.error({ ...PLAIN, ...this.last, repeats: this.repeats }, `${this.message} (${this.repeats} more times since the last line)`);
    this.repeats = 0;
    this.last = undefined;
  }
}
