import type { RoutingStrategy } from '../task.js';

/** What the dispatcher needs of a queued task; the input stays in the store. */
export interface QueuedTask {
  id: string;
  priority: number;
  strategy: RoutingStrategy;
  affinityKey?: string;
  targetAgentId?: string;
  availableAt: number;
  /** Submission order: FIFO within a priority. */
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
    // Re-queued tasks (retries) may carry an older seq: keep each bucket ordered by seq.
    let i = bucket.length;
    while (i > this.heads[task.priority]! && bucket[i - 1]!.seq > task.seq) i--;
    bucket.splice(i, 0, task);
  }

  remove(id: string): boolean {
    return this.live.delete(id);
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
