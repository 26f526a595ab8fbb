import { describe, expect, it } from 'vitest';
import { RepeatedErrorLog } from '../../../src/application/repeated-error-log.js';

function recorder() {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  return { lines, logger: { error: (fields: object, message?: string) => lines.push({ fields: fields as Record<string, unknown>, message: message ?? '' }) } };
}

describe('RepeatedErrorLog', () => {
  it('writes the first error at once, counts the repeats of its interval, and says them in one line when it ends', async () => {
    const { lines, logger } = recorder();
    const log = new RepeatedErrorLog(logger, 'write failed', 40);
    for (let i = 0; i < 500; i++) log.error({ task_id: `t${i}` });
    expect(lines).toEqual([{ fields: { task_id: 't0' }, message: 'write failed' }]);
    await new Promise((r) => setTimeout(r, 80));
    expect(lines[1]).toEqual({ fields: { task_id: 't499', repeats: 499 }, message: 'write failed (499 more times since the last line)' });
    // A new interval begins with the next error, written at once.
    log.error({ task_id: 'later' });
    expect(lines).toHaveLength(3);
    expect(lines[2]).toEqual({ fields: { task_id: 'later' }, message: 'write failed' });
  });

  it('writes nothing more when nothing repeated, and flush says what is pending at once', () => {
    const { lines, logger } = recorder();
    let now = 0;
    const log = new RepeatedErrorLog(logger, 'write failed', 5_000, () => now);
    log.error({ n: 1 });
    log.flush();
    expect(lines).toHaveLength(1);
    now = 10;
    log.error({ n: 2 });
    log.error({ n: 3 });
    log.flush();
    expect(lines.map((l) => l.fields)).toEqual([{ n: 1 }, { n: 3, repeats: 2 }]);
    // After the interval, the next error is written in full again.
    now = 6_000;
    log.error({ n: 4 });
    expect(lines.at(-1)).toEqual({ fields: { n: 4 }, message: 'write failed' });
  });
});
