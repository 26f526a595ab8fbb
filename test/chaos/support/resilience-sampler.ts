import { ADMIN_KEY } from '../../support/mesh-harness.js';

/** What the instances' /metrics said of one policy (database, message_broker, redis...) over the samples. */
export interface PolicyRecord {
  /** Breaker states seen (0 closed, 1 open, 2 half-open, 3 isolated), in order, repeats collapsed. */
  states: number[];
  maxActive: number;
  maxQueued: number;
  maxConcurrent: number;
}

const GAUGES = ['agentmesh_circuit_breaker_state', 'agentmesh_bulkhead_active', 'agentmesh_bulkhead_queued', 'agentmesh_bulkhead_max_concurrent'] as const;

/** Reads the resilience gauges of each instance's /metrics (with the admin key) every `everyMs`, keeping per policy what matters. */
export class ResilienceSampler {
  /** By instance URL, then policy. */
  readonly records = new Map<string, Map<string, PolicyRecord>>();
  private readonly timer: NodeJS.Timeout;

  constructor(urls: () => string[], everyMs = 1_000) {
    this.timer = setInterval(() => void Promise.all(urls().map((url) => this.sample(url))), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The policy's record on that instance, merged over every instance when `url` is omitted. */
  policy(name: string, url?: string): PolicyRecord {
    const records = [...this.records].filter(([u]) => url === undefined || u === url).map(([, byPolicy]) => byPolicy.get(name)).filter((r) => r !== undefined);
    return {
      states: records.flatMap((r) => r.states),
      maxActive: Math.max(0, ...records.map((r) => r.maxActive)),
      maxQueued: Math.max(0, ...records.map((r) => r.maxQueued)),
      maxConcurrent: Math.max(0, ...records.map((r) => r.maxConcurrent)),
    };
  }

  policies(): string[] {
    return [...new Set([...this.records.values()].flatMap((m) => [...m.keys()]))];
  }

  /** Reads the current breaker state of each policy on one instance now. */
  static async breakerStates(url: string): Promise<Record<string, number>> {
    const states: Record<string, number> = {};
    for (const { gauge, policy, value } of parse(await scrape(url))) if (gauge === 'agentmesh_circuit_breaker_state') states[policy] = value;
    return states;
  }

  private async sample(url: string): Promise<void> {
    let text: string;
    try {
      text = await scrape(url);
    } catch {
      return; // an instance that does not answer in time is sampled next time
    }
    const byPolicy = this.records.get(url) ?? new Map<string, PolicyRecord>();
    this.records.set(url, byPolicy);
    for (const { gauge, policy, value } of parse(text)) {
      const r = byPolicy.get(policy) ?? { states: [], maxActive: 0, maxQueued: 0, maxConcurrent: 0 };
      byPolicy.set(policy, r);
      if (gauge === 'agentmesh_circuit_breaker_state' && r.states.at(-1) !== value) r.states.push(value);
      if (gauge === 'agentmesh_bulkhead_active') r.maxActive = Math.max(r.maxActive, value);
      if (gauge === 'agentmesh_bulkhead_queued') r.maxQueued = Math.max(r.maxQueued, value);
      if (gauge === 'agentmesh_bulkhead_max_concurrent') r.maxConcurrent = Math.max(r.maxConcurrent, value);
    }
  }
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` }, signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return response.text();
}

function* parse(text: string): Generator<{ gauge: (typeof GAUGES)[number]; policy: string; value: number }> {
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{[^}]*policy="([^"]+)"[^}]*\} (\S+)/u.exec(line);
    if (m && (GAUGES as readonly string[]).includes(m[1]!)) yield { gauge: m[1] as (typeof GAUGES)[number], policy: m[2]!, value: Number(m[3]) };
  }
}
