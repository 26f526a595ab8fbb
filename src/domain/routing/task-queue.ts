import type { RoutingStrategy } from '../task.js';

/** What the dispatcher needs of a queued task; the input stays in the store. */
export interface QueuedTask {
  id: string;
  priority: number;
  strategy: RoutingStrategy;
  affinityKey?: string;
  targetAgentId?: string;
  availableAt: number;
  /** Submission order (the task's creation time): FIFO within a priority; equal values keep the order they were pushed in. */
  seq: number;
}

const PRIORITIES = 10;

/**
 * Queued tasks of one tenant and capability: higher priority first, FIFO within a priority.
 * Removal is by id and O(1) amortized (entries are skipped lazily when iterating).
 */
export class PriorityTaskQueue {
  private readonly buckets: QueuedTask[][] = Array.from({ length: PRIORITIES }, () => []);
  private readonly heads: number[] = new Array<number>(PRIORITIES).fill(0);
  private readonly live = new Map<string, QueuedTask>();
  /** Removed entries still sitting in a bucket; past a bound the buckets are rebuilt. */
  private dead = 0;

  get size(): number {
    return this.live.size;
  }

  has(id: string): boolean {
    return this.live.has(id);
  }

  push(queued: QueuedTask): void {
    if (this.live.has(queued.id)) return;
    // A fresh object per push: a removed entry left in its bucket must never match a later push.
    const task = { ...queued };
    this.live.set(task.id, task);
    const bucket = this.buckets[task.priority]!;
    // Re-queued tasks (retries, hand-backs) carry an older seq: keep each bucket ordered by seq,
    // after the entries of an equal seq. A binary search, as the place may be far back in a backlog.
    let low = this.heads[task.priority]!;
    let high = bucket.length;
    if (high > low && bucket[high - 1]!.seq <= task.seq) low = high;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (bucket[mid]!.seq <= task.seq) low = mid + 1;
      else high = mid;
    }
    bucket.splice(low, 0, task);
  }

  /**
   * Many entries at once (un-parked or due after backoff): appended, then each touched bucket is
   * compacted and sorted once, O(n log n), where one push at a time could walk the bucket each time.
   */
  pushMany(entries: Iterable<QueuedTask>): void {
    const touched = new Set<number>();
    for (const queued of entries) {
      if (this.live.has(queued.id)) continue;
      const task = { ...queued };
      this.live.set(task.id, task);
      this.buckets[task.priority]!.push(task);
      touched.add(task.priority);
    }
    for (const p of touched) {
      this.buckets[p] = this.buckets[p]!.slice(this.heads[p]).filter((e) => this.live.get(e.id) === e).sort((a, b) => a.seq - b.seq);
      this.heads[p] = 0;
    }
  }

  remove(id: string): boolean {
    if (!this.live.delete(id)) return false;
    if (++this.dead > 1024 && this.dead > this.live.size) this.compact();
    return true;
  }

  private compact(): void {
    for (let p = 0; p < PRIORITIES; p++) {
      this.buckets[p] = this.buckets[p]!.slice(this.heads[p]).filter((e) => this.live.get(e.id) === e);
      this.heads[p] = 0;
    }
    this.dead = 0;
  }

  /** Live entries in dispatch order. Compacts consumed prefixes as it goes. */
  *inOrder(): Generator<QueuedTask> {
    for (let p = PRIORITIES - 1; p >= 0; p--) {
      const bucket = this.buckets[p]!;
      let head = this.heads[p]!;
      while (head < bucket.length && this.live.get(bucket[head]!.id) !== bucket[head]) head++;
      this.heads[p] = head;
      if (head > 1024 && head * 2 > bucket.length) {
        bucket.splice(0, head);
        this.heads[p] = head = 0;
      }
      for (let i = head; i < bucket.length; i++) {
        const entry = bucket[i]!;
        if (this.live.get(entry.id) === entry) yield entry;
      }
    }
  }
}
