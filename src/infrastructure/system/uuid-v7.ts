import { randomUUID } from 'node:crypto';
import type { IdGenerator } from '../../application/ports.js';

/**
 * RFC 9562 UUIDv7: 48-bit millisecond time, then random bits, with a monotonic counter in
 * rand_a so ids made in one millisecond still sort in creation order.
 */
export class UuidV7Generator implements IdGenerator {
  private lastMs = 0;
  private counter = 0;

  newId(): string {
    let ms = Date.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.counter++;
      if (this.counter > 0xfff) {
        ms = ++this.lastMs;
        this.counter = 0;
      }
    } else {
      this.lastMs = ms;
      this.counter = 0;
    }
    // randomUUID draws from a cached entropy pool; keep its random tail (variant bits included).
    const random = randomUUID();
    const time = ms.toString(16).padStart(12, '0');
    const version = (0x7000 | this.counter).toString(16);
    return `${time.slice(0, 8)}-${time.slice(8, 12)}-${version}-${random.slice(19)}`;
  }
}

/** The smallest UUIDv7 of millisecond `ms`: ids made at or after `ms` sort at or after it. */
export function uuidV7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
