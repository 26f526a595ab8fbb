import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { HealthProbe } from './ports.js';

/** A probe that hangs counts as down: checks answer within this bound. */
export const PROBE_TIMEOUT_MS = 2_000;

export interface DependencyStatus {
  status: 'up' | 'down';
  error?: string;
}

/** Pings one dependency, giving up after PROBE_TIMEOUT_MS. */
export async function checkDependency(probe: HealthProbe): Promise<DependencyStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up' };
  } catch (error) {
    return { status: 'down', error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Every dependency at once, by name. */
export async function checkDependencies(probes: Record<string, HealthProbe>): Promise<Record<string, DependencyStatus>> {
  const names = Object.keys(probes);
  const results = await Promise.all(names.map((name) => checkDependency(probes[name]!)));
  return Object.fromEntries(names.map((name, i) => [name, results[i]!]));
}

export interface HealthOptions {
  /** How long a result of the dependency checks is reused (probes stay cheap under frequent polling). */
  cacheMs: number;
  /** An event loop delay (the longest since the last liveness check) above this means the process is stuck: not alive. */
  maxEventLoopDelayMs: number;
}

export const DEFAULT_HEALTH_OPTIONS: HealthOptions = { cacheMs: 5_000, maxEventLoopDelayMs: 10_000 };

export interface SystemHealth {
  /** degraded: every dependency the mesh needs answers, some it can run without do not. */
  status: 'healthy' | 'degraded' | 'unhealthy';
  checks: Record<string, DependencyStatus>;
  /** The dependencies down that the mesh runs without (Redis: local counts meanwhile). */
  degraded: string[];
  /** When the checks ran (epoch ms): up to cacheMs ago. */
  checkedAt: number;
  eventLoopDelayP99Ms: number;
  uptimeSeconds: number;
}

/**
 * The seed's health service: dependency checks with timeouts, their result reused for `cacheMs`
 * (one check in flight at a time, however many probes ask), and liveness from the event loop.
 */
export class HealthCheckService {
  private cached: { at: number; checks: Promise<Record<string, DependencyStatus>> } | undefined;
  private readonly loopDelay: IntervalHistogram;
  private readonly startedAt = Date.now();

  constructor(
    private readonly probes: Record<string, HealthProbe>,
    private readonly options: HealthOptions = DEFAULT_HEALTH_OPTIONS,
    /** Dependencies whose loss degrades the mesh instead of making it unready. */
    private readonly optional: ReadonlySet<string> = new Set(),
  ) {
    this.loopDelay = monitorEventLoopDelay({ resolution: 20 });
    this.loopDelay.enable();
  }

  async getSystemHealth({ useCache = true }: { useCache?: boolean } = {}): Promise<SystemHealth> {
    const now = Date.now();
    if (!useCache || this.cached === undefined || now - this.cached.at >= this.options.cacheMs) {
      this.cached = { at: now, checks: checkDependencies(this.probes) };
    }
    const { at, checks } = this.cached;
    const results = await checks;
    const down = Object.keys(results).filter((name) => results[name]!.status === 'down');
    return {
      status: down.some((name) => !this.optional.has(name)) ? 'unhealthy' : down.length > 0 ? 'degraded' : 'healthy',
      checks: results,
      degraded: down.filter((name) => this.optional.has(name)),
      checkedAt: at,
      eventLoopDelayP99Ms: this.loopDelay.percentile(99) / 1e6,
      uptimeSeconds: Math.round((now - this.startedAt) / 1000),
    };
  }

  /** Ready when every dependency the mesh needs answers (a degraded mesh still serves). */
  async isReady(): Promise<boolean> {
    return (await this.getSystemHealth()).status !== 'unhealthy';
  }

  isAlive(): boolean {
    return this.liveness().alive;
  }

  /**
   * Alive unless the event loop was blocked longer than the bound since the last call (the longest
   * delay, not a percentile: one long block among many short samples is what a stuck process shows).
   * No dependency is asked.
   */
  liveness(): { alive: boolean; eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number } {
    const eventLoopDelayP99Ms = this.loopDelay.percentile(99) / 1e6;
    const eventLoopDelayMaxMs = this.loopDelay.max / 1e6;
    this.loopDelay.reset();
    return { alive: eventLoopDelayMaxMs <= this.options.maxEventLoopDelayMs, eventLoopDelayP99Ms, eventLoopDelayMaxMs };
  }

  close(): void {
    this.loopDelay.disable();
  }
}
