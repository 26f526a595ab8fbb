/** What a routing strategy knows of an agent: a snapshot, so strategies stay pure. */
export interface RoutingCandidate {
  id: string;
  inFlight: number;
  maxConcurrentTasks: number;
  /** Proficiency in the task's capability, 1-5. */
  proficiency: number;
  assignedCount: number;
  completedCount: number;
  failedCount: number;
  avgLatencyMs: number;
  /** 0..1: how recently the agent heartbeated relative to the timeout. */
  freshness: number;
}

export function hasFreeSlot(c: RoutingCandidate): boolean {
  return c.inFlight < c.maxConcurrentTasks;
}

export function loadRatio(c: RoutingCandidate): number {
  return c.inFlight / c.maxConcurrentTasks;
}

export function successRate(c: RoutingCandidate): number {
  const finished = c.completedCount + c.failedCount;
  return finished === 0 ? 1 : c.completedCount / finished;
}

export function byId(a: RoutingCandidate, b: RoutingCandidate): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
