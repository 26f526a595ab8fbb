import { Writable } from 'node:stream';

/** A destination that keeps every line, parsed. */
export function captureLines(): { stream: Writable; lines: Array<Record<string, any>>; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    get lines() {
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    },
    text: () => text,
  };
}
