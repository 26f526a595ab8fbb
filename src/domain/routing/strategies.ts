import type { RoutingStrategy } from '../task.js';
import { byId, hasFreeSlot, loadRatio, successRate, type RoutingCandidate } from './candidate.js';
import { hash53 } from './hash.js';

/**
 * Pure routing strategies. Each gets the live agents of the tenant that have the task's capability
 * (with or without a free slot) and returns the chosen agent id, or undefined when the task must wait.
 */

/** Next agent with a free slot after `lastAgentId` in id order, wrapping around: an even spread. */
export function roundRobin(candidates: readonly RoutingCandidate[], lastAgentId: string | undefined): string | undefined {
  const free = candidates.filter(hasFreeSlot).sort(byId);
  if (free.length === 0) return undefined;
  if (lastAgentId === undefined) return free[0]!.id;
  return (free.find((c) => c.id > lastAgentId) ?? free[0]!).id;
}

/** Fewest in-flight relative to capacity; ties go to the agent given the fewest tasks so far. */
export function leastLoaded(candidates: readonly RoutingCandidate[]): string | undefined {
  let best: RoutingCandidate | undefined;
  for (const c of candidates) {
    if (!hasFreeSlot(c)) continue;
    if (
      best === undefined ||
      loadRatio(c) < loadRatio(best) ||
      (loadRatio(c) === loadRatio(best) && (c.assignedCount < best.assignedCount || (c.assignedCount === best.assignedCount && c.id < best.id)))
    ) {
      best = c;
    }
  }
  return best?.id;
}

export const CAPABILITY_WEIGHTS = { proficiency: 0.4, availability: 0.25, load: 0.15, successRate: 0.15, responseTime: 0.05 };

/** Weighted score in [0, 1]; the weights are the seed's. */
export function capabilityScore(c: RoutingCandidate): number {
  const w = CAPABILITY_WEIGHTS;
  const responseTime = 1 / (1 + c.avgLatencyMs / 1000);
  return (
    w.proficiency * (c.proficiency / 5) +
    w.availability * c.freshness +
    w.load * (1 - loadRatio(c)) +
    w.successRate * successRate(c) +
    w.responseTime * responseTime
  );
}

export function capabilityBased(candidates: readonly RoutingCandidate[]): string | undefined {
  let best: RoutingCandidate | undefined;
  let bestScore = -1;
  for (const c of candidates) {
    if (!hasFreeSlot(c)) continue;
    const score = capabilityScore(c);
    if (score > bestScore || (score === bestScore && best !== undefined && c.assignedCount < best.assignedCount)) {
      best = c;
      bestScore = score;
    }
  }
  return best?.id;
}

/**
 * Rendezvous (highest random weight) hashing: the same key maps to the same live agent, and when an
 * agent joins or leaves only the keys that agent wins or held move (about 1/n of them).
 * A busy owner keeps its keys: the task waits for it rather than breaking affinity.
 */
export function affinityOwner(candidates: readonly RoutingCandidate[], affinityKey: string): RoutingCandidate | undefined {
  let best: RoutingCandidate | undefined;
  let bestWeight = -1;
  for (const c of candidates) {
    const weight = hash53(`${affinityKey}\u0000${c.id}`);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && c.id < best.id)) {
      best = c;
      bestWeight = weight;
    }
  }
  return best;
}

export function affinity(candidates: readonly RoutingCandidate[], affinityKey: string): string | undefined {
  const owner = affinityOwner(candidates, affinityKey);
  return owner !== undefined && hasFreeSlot(owner) ? owner.id : undefined;
}

export interface RouteContext {
  affinityKey?: string;
  /** The agent that round robin chose last for this tenant and capability. */
  lastRoundRobinAgentId?: string;
}

/** Picks one agent for a single-agent strategy (broadcast fans out separately). */
export function selectAgent(
  strategy: RoutingStrategy,
  candidates: readonly RoutingCandidate[],
  context: RouteContext,
): string | undefined {
  switch (strategy) {
    case 'round_robin':
      return roundRobin(candidates, context.lastRoundRobinAgentId);
    case 'least_loaded':
    case 'load_balanced':
    case 'least_connections':
    case 'priority':
      return leastLoaded(candidates);
    case 'capability_based':
      return capabilityBased(candidates);
    case 'affinity':
      return affinity(candidates, context.affinityKey ?? '');
    case 'broadcast':
      return undefined;
  }
}
