/**
 * The items of `source`, with `keepalive` in between whenever `everyMs` pass without one, so
 * proxies do not take a quiet stream for a dead one. Returning early returns `source` too.
 */
export async function* withKeepalive<T>(source: AsyncIterable<T>, everyMs: number, keepalive: T): AsyncGenerator<T, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let pending = iterator.next();
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const tick = new Promise<'tick'>((resolve) => (timer = setTimeout(() => resolve('tick'), everyMs)));
      const next = await Promise.race([pending, tick]);
      clearTimeout(timer);
      if (next === 'tick') {
        yield keepalive;
        continue;
      }
      if (next.done) return;
      pending = iterator.next();
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
    await iterator.return?.();
  }
}
