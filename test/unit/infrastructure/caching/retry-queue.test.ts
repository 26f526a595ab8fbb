import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../../src/application/logger.js';
import { RetryQueue } from '../../../../src/infrastructure/caching/retry-queue.js';

describe('RetryQueue', () => {
  it('gives the oldest up past 10,000 waiting, says so and counts it, and runs the rest in order once they succeed', async () => {
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, message: string) => warnings.push(message) } as unknown as Logger;
    const queue = new RetryQueue(logger, 10);
    let up = false;
    const ran: number[] = [];
    const finished: number[] = [];
    for (let i = 0; i < 10_002; i++) {
      queue.add(
        async () => {
          if (!up) throw new Error('still away');
          ran.push(i);
        },
        () => finished.push(i),
      );
    }
    expect(queue.size).toBe(10_000);
    expect(queue.givenUp).toBe(2);
    expect(finished).toEqual([0, 1]);
    expect(warnings).toHaveLength(2);
    up = true;
    await new Promise((r) => setTimeout(r, 200));
    expect(queue.size).toBe(0);
    expect(ran[0]).toBe(2);
    expect(ran).toHaveLength(10_000);
    expect(finished).toHaveLength(10_002);
    queue.stop();
  });
});
