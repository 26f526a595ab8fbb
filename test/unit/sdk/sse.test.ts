import { describe, expect, it } from 'vitest';
import { readEvents } from '../../../src/sdk/sse.js';

const body = (...chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });

const all = async (stream: ReadableStream<Uint8Array>, max?: number) => {
  const events = [];
  for await (const event of readEvents(stream, undefined, max)) events.push(event);
  return events;
};

describe('readEvents', () => {
  it('reads events split anywhere across chunks, skips comments, and joins data lines', async () => {
    expect(await all(body(': connected\n\nevent: ta', 'sk\nid: t1:1\ndata: {"a":\ndata: 1}\n\n: keepalive\n\n', 'data: x\r\n\r\n'))).toEqual([
      { event: 'task', id: 't1:1', data: '{"a":\n1}' },
      { event: 'message', data: 'x' },
    ]);
  });

  it('ends the stream with an error when one event grows past its bound, whether in one line or many', async () => {
    await expect(all(body('data: ' + 'x'.repeat(200)), 100)).rejects.toThrow('an event of the task stream passed 100 characters: the stream is ended');
    await expect(all(body(...Array.from({ length: 20 }, () => 'data: 0123456789\n')), 100)).rejects.toThrow(/passed 100 characters/u);
    // Events under the bound, however many, pass.
    expect(await all(body(...Array.from({ length: 20 }, () => 'data: 0123456789\n\n')), 100)).toHaveLength(20);
  });
});
