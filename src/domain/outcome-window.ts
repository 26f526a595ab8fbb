/**
 * An agent's last outcomes (success or failure of tasks it held), to compare it with its peers.
 * The last `OUTCOME_WINDOW_SIZE` outcomes as bits (1 = failure), so a record costs a shift.
 */
export interface OutcomeWindow {
  bits: number;
  count: number;
}

export const OUTCOME_WINDOW_SIZE = 20;
/** Fewer outcomes than this say too little of an agent: it is neither judged nor used as a peer. */
export const OUTCOME_MIN_VOLUME = 10;
/** An agent is compared with at least this many peers, or not judged by its failure rate at all. */
export const OUTCOME_MIN_PEERS = 2;
/** How many times its peers' failure rate an agent's must be to make it an outlier. */
export const OUTCOME_PEER_FACTOR = 3;

const MASK = 2 ** OUTCOME_WINDOW_SIZE - 1;

export const EMPTY_OUTCOME_WINDOW: OutcomeWindow = { bits: 0, count: 0 };

export function recordOutcome(window: OutcomeWindow, failed: boolean): OutcomeWindow {
  return { bits: ((window.bits << 1) | (failed ? 1 : 0)) & MASK, count: Math.min(OUTCOME_WINDOW_SIZE, window.count + 1) };
}

export function failureRatio(window: OutcomeWindow): number {
  if (window.count === 0) return 0;
  let failures = 0;
  for (let bits = window.bits; bits !== 0; bits &= bits - 1) failures++;
  return failures / window.count;
}

export interface OutlierVerdict {
  failureRatio: number;
  peerFailureRatio: number;
  peers: number;
}

/**
 * Outlier detection against peers (in the manner of Envoy's): an agent fails tasks that its peers,
 * on the same capability, get done. Its failure ratio must reach `minRatio` and be at least
 * `OUTCOME_PEER_FACTOR` times its peers' mean, over enough outcomes on both sides. Failures that
 * every agent sees (flaky tasks, an upstream down for all) raise the peers' ratio too, so they
 * never single one agent out. Undefined when it is not an outlier or cannot be judged.
 */
export function judgeAgainstPeers(own: OutcomeWindow, peers: readonly OutcomeWindow[], minRatio: number): OutlierVerdict | undefined {
  if (minRatio <= 0 || own.count < OUTCOME_MIN_VOLUME) return undefined;
  const ratio = failureRatio(own);
  if (ratio < minRatio) return undefined;
  const judged = peers.filter((p) => p.count >= OUTCOME_MIN_VOLUME);
  if (judged.length < OUTCOME_MIN_PEERS) return undefined;
  const peerRatio = judged.reduce((sum, p) => sum + failureRatio(p), 0) / judged.length;
  if (ratio < peerRatio * OUTCOME_PEER_FACTOR) return undefined;
  return { failureRatio: ratio, peerFailureRatio: peerRatio, peers: judged.length };
}
