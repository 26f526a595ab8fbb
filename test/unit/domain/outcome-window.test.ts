import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_OUTCOME_WINDOW,
  OUTCOME_MIN_VOLUME,
  OUTCOME_WINDOW_SIZE,
  failureRatio,
  judgeAgainstPeers,
  recordOutcome,
  type OutcomeWindow,
} from '../../../src/domain/index.js';

const windowOf = (outcomes: boolean[]): OutcomeWindow => outcomes.reduce(recordOutcome, EMPTY_OUTCOME_WINDOW);
const failing = (failures: number, of: number) => windowOf(Array.from({ length: of }, (_, i) => i < failures));

describe('outcome window', () => {
  it('keeps the last outcomes only, and their failure ratio', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 60 }), (outcomes) => {
        const window = windowOf(outcomes);
        const last = outcomes.slice(-OUTCOME_WINDOW_SIZE);
        expect(window.count).toBe(last.length);
        expect(failureRatio(window)).toBeCloseTo(last.length === 0 ? 0 : last.filter(Boolean).length / last.length, 10);
      }),
    );
  });

  it('singles out an agent that fails what its peers get done', () => {
    expect(judgeAgainstPeers(failing(18, 20), [failing(1, 20), failing(0, 20), failing(2, 20)], 0.5)).toEqual({ failureRatio: 0.9, peerFailureRatio: expect.closeTo(0.05, 10), peers: 3 });
    // At least three times its peers' ratio: 60% against 15% yes, against 30% no.
    expect(judgeAgainstPeers(failing(12, 20), [failing(3, 20), failing(3, 20)], 0.5)).toBeDefined();
    expect(judgeAgainstPeers(failing(12, 20), [failing(6, 20), failing(6, 20)], 0.5)).toBeUndefined();
  });

  it('does not single out anyone when all fail alike (flaky tasks, an upstream down for all)', () => {
    const all = [failing(20, 20), failing(19, 20), failing(20, 20)];
    for (const own of all) expect(judgeAgainstPeers(own, all.filter((w) => w !== own), 0.5)).toBeUndefined();
    const flaky = [failing(6, 20), failing(4, 20), failing(5, 20)];
    for (const own of flaky) expect(judgeAgainstPeers(own, flaky.filter((w) => w !== own), 0.5)).toBeUndefined();
  });

  it('judges nobody on too few outcomes, too few peers, below the ratio, or with the rule off', () => {
    const bad = failing(20, 20);
    const good = failing(0, 20);
    expect(judgeAgainstPeers(failing(OUTCOME_MIN_VOLUME - 1, OUTCOME_MIN_VOLUME - 1), [good, good], 0.5)).toBeUndefined();
    expect(judgeAgainstPeers(bad, [good], 0.5)).toBeUndefined();
    expect(judgeAgainstPeers(bad, [good, failing(0, OUTCOME_MIN_VOLUME - 1)], 0.5)).toBeUndefined();
    expect(judgeAgainstPeers(failing(8, 20), [good, good], 0.5)).toBeUndefined();
    expect(judgeAgainstPeers(bad, [good, good], 0)).toBeUndefined();
  });
});
