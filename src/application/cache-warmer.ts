import type { Logger } from './logger.js';
import type { Agent } from '../domain/index.js';
import type { AgentRepository, TenantRepository } from './ports.js';

export interface CacheWarmingSettings {
  /** Preload when the instance starts. */
  onStart: boolean;
  /** Preload again this often; 0: never. */
  intervalMs: number;
}

export const DEFAULT_CACHE_WARMING: CacheWarmingSettings = { onStart: true, intervalMs: 300_000 };

export interface WarmReport {
  tenants: number;
  rosters: number;
  durationMs: number;
  /** Stopped at `maxEntries`: what was left would only have evicted what was warmed. */
  truncated: boolean;
}

/** Progress is logged this often while a warming runs. */
const PROGRESS_EVERY_MS = 2_000;

/**
 * Preloads the cache with what every request reads: each tenant's configuration, and the rosters
 * of its agents (all of them, and one per capability of its live agents). It reads through the
 * cached repositories, so what is cached already is left as it is and only what is missing is
 * loaded. One warming of a scope at a time: a second ask joins the one under way.
 */
export class CacheWarmer {
  private readonly running = new Map<string, Promise<WarmReport>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly tenants: TenantRepository,
    private readonly agents: AgentRepository,
    private readonly logger: Logger,
    /** At most this many entries per warming (L1's bound). */
    private readonly maxEntries: number,
  ) {}

  /** Warmings under way: at most one for all tenants and one per tenant asked for. */
  get inProgress(): number {
    return this.running.size;
  }

  /** Every tenant's, or one tenant's. */
  warm(tenantId?: string): Promise<WarmReport> {
    const scope = tenantId ?? '*';
    let run = this.running.get(scope);
    if (!run) {
      run = this.run(tenantId).finally(() => this.running.delete(scope));
      this.running.set(scope, run);
    }
    return run;
  }

  /** Warms now (when asked) and every interval; a failed warming is logged and tried at the next. */
  start(settings: CacheWarmingSettings): void {
    const warmLogged = () => void this.warm().catch((error: unknown) => this.logger.warn({ err: error }, 'cache warming failed; the cache fills as it is read'));
    if (settings.onStart) warmLogged();
    if (settings.intervalMs > 0) this.timer = setInterval(warmLogged, settings.intervalMs).unref();
  }

  /** No more warming; one under way stops at its next tenant, and this waits for it (so the store is not read as it closes). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopped = true;
    await Promise.allSettled([...this.running.values()]);
  }

  private async agentsOf(tenantId: string): Promise<Agent[]> {
    const agents: Agent[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.agents.list(tenantId, {}, { limit: 500, ...(cursor !== undefined && { cursor }) });
      for (const agent of page.items) if (agent.status !== 'terminated') agents.push(agent);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return agents;
  }

  private async run(only: string | undefined): Promise<WarmReport> {
    const started = performance.now();
    const tenantIds = only !== undefined ? [only] : await this.tenants.listIds();
    const capabilities = new Map<string, Set<string>>(tenantIds.map((id) => [id, new Set<string>()]));
    // One tenant's warming reads that tenant's agents only (through its cached roster), never every tenant's.
    for (const agent of only !== undefined ? await this.agentsOf(only) : await this.agents.listNotTerminated()) {
      for (const c of agent.capabilities) capabilities.get(agent.tenantId)?.add(c.name);
    }
    const report: WarmReport = { tenants: 0, rosters: 0, durationMs: 0, truncated: false };
    let lastProgress = started;
    this.logger.info({ tenants: tenantIds.length, scope: only ?? 'all' }, 'cache warming started');
    for (const tenantId of tenantIds) {
      if (this.stopped) break;
      const rosters = [undefined, ...(capabilities.get(tenantId) ?? [])];
      if (report.tenants + report.rosters + 1 + rosters.length > this.maxEntries) {
        report.truncated = true;
        break;
      }
      await this.tenants.get(tenantId);
      report.tenants++;
      // The first page of each listing loads its whole roster.
      for (const capability of rosters) await this.agents.list(tenantId, capability === undefined ? {} : { capability }, { limit: 1 });
      report.rosters += rosters.length;
      if (performance.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = performance.now();
        this.logger.info({ tenants: report.tenants, of: tenantIds.length, rosters: report.rosters }, 'cache warming under way');
      }
    }
    report.durationMs = Math.round(performance.now() - started);
    this.logger.info({ tenants: report.tenants, rosters: report.rosters, truncated: report.truncated, duration_ms: report.durationMs }, report.truncated ? 'cache warmed up to its bound on entries' : 'cache warmed');
    return report;
  }
}
