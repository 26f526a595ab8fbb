/**
 * Serializes async work per key within this process (read-modify-write of one task or agent).
 * Entries exist only while someone holds or waits for the key, so the map stays bounded by the work in flight.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  get heldKeys(): number {
    return this.tails.size;
  }

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous ? previous.then(() => mine) : mine;
    this.tails.set(key, tail);
    try {
      if (previous) await previous;
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
