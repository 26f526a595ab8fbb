/** A sliding window is kept in this many buckets: accurate to a sixtieth of the window. */
export const WINDOW_BUCKETS = 60;

/** The buckets of the window ending at `now`: bucket numbers `current - 59` to `current`, each `bucketMs` long. */
export function windowAt(windowMs: number, now: number): { bucketMs: number; current: number } {
  const bucketMs = Math.max(1, Math.ceil(windowMs / WINDOW_BUCKETS));
  return { bucketMs, current: Math.floor(now / bucketMs) };
}
