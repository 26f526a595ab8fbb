import type { CountWindow, SharedCounters, WindowAddition } from '../../application/ports.js';
import { windowAt, WINDOW_BUCKETS } from './sliding-window.js';

const MAX_COUNTERS = 100_000;

interface Counter {
  buckets: Float64Array;
  counts: Float64Array;
}

/** SharedCounters for one instance: the same sliding windows as Redis, in this process (bounded, least recently used go first). */
export class InMemoryCounters implements SharedCounters {
  private readonly counters = new Map<string, Counter>();

  get size(): number {
    return this.counters.size;
  }

  async add(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<number> {
    return (await this.addInWindow(tenantId, name, windowMs, amount, now)).total;
  }

  addInWindow(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<CountWindow> {
    return Promise.resolve(this.count(tenantId, name, windowMs, amount, now));
  }

  /** Every request counts here (rate limits): one window, without a promise or a growing array per call. */
  private count(tenantId: string, name: string, windowMs: number, amount: number, now: number): CountWindow {
    const k = `${tenantId}\u0000${name}\u0000${windowMs}`;
    let counter = this.counters.get(k);
    if (counter) this.counters.delete(k);
    else counter = { buckets: new Float64Array(WINDOW_BUCKETS).fill(-Infinity), counts: new Float64Array(WINDOW_BUCKETS) };
    this.counters.set(k, counter);
    if (this.counters.size > MAX_COUNTERS) this.counters.delete(this.counters.keys().next().value!);
    const { bucketMs, current } = windowAt(windowMs, now);
    const i = current % WINDOW_BUCKETS;
    if (counter.buckets[i] !== current) {
      counter.buckets[i] = current;
      counter.counts[i] = 0;
    }
    counter.counts[i]! += amount;
    const buckets = new Array<number>(WINDOW_BUCKETS);
    for (let n = 0; n < WINDOW_BUCKETS; n++) {
      const b = current - WINDOW_BUCKETS + 1 + n;
      const j = ((b % WINDOW_BUCKETS) + WINDOW_BUCKETS) % WINDOW_BUCKETS;
      buckets[n] = counter.buckets[j] === b ? counter.counts[j]! : 0;
    }
    return { total: sum(counter, current), buckets, bucketMs, current };
  }

  addInWindows(tenantId: string, additions: readonly WindowAddition[], now: number): Promise<CountWindow[]> {
    const windows = new Array<CountWindow>(additions.length);
    for (let i = 0; i < additions.length; i++) windows[i] = this.count(tenantId, additions[i]!.name, additions[i]!.windowMs, additions[i]!.amount, now);
    return Promise.resolve(windows);
  }

  async total(tenantId: string, name: string, windowMs: number, now: number): Promise<number> {
    const counter = this.counters.get(`${tenantId}\u0000${name}\u0000${windowMs}`);
    return counter ? sum(counter, windowAt(windowMs, now).current) : 0;
  }
}

function sum(counter: Counter, current: number): number {
  let total = 0;
  for (let i = 0; i < WINDOW_BUCKETS; i++) if (counter.buckets[i]! > current - WINDOW_BUCKETS) total += counter.counts[i]!;
  return total;
}
