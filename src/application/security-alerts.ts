import { AuditAction, type AuditEntry } from '../domain/index.js';
import type { Logger } from './logger.js';

export type AlertSeverity = 'low' | 'medium' | 'high' | 'critical';

/** A sensitive action, or a burst of failed authentications, to tell a SIEM about. */
export interface SecurityAlert {
  /** Unique per alert: a resend after a failure carries the same id, so a SIEM can drop repeats. */
  id: string;
  /** The audit action, or AUTH_FAILURE_BURST. */
  kind: string;
  severity: AlertSeverity;
  tenantId: string;
  at: number;
  summary: string;
  /** The entry that raised it (the last of a burst). */
  entry: AuditEntry;
  /** Entries behind a burst. */
  count: number;
}

/** Where alerts go: a syslog collector, a webhook (a port; infrastructure/security/siem has the adapters). */
export interface AlertSink {
  readonly name: string;
  /** Delivers the alerts or throws; the dispatcher retries. */
  send(alerts: readonly SecurityAlert[]): Promise<void>;
  close(): Promise<void>;
}

export interface AlertOptions {
  /** Failed authentications from one source address within the window that make a burst. */
  authFailureThreshold: number;
  authFailureWindowMs: number;
  /** Alerts waiting per sink; past it the oldest are dropped (and counted). */
  maxQueue: number;
  /** Alerts per delivery. */
  maxBatch: number;
  /** Backoff between failed deliveries: full jitter over base × 2^n, capped. */
  retryBaseMs: number;
  retryCapMs: number;
}

export const DEFAULT_ALERT_OPTIONS: AlertOptions = { authFailureThreshold: 5, authFailureWindowMs: 60_000, maxQueue: 10_000, maxBatch: 100, retryBaseMs: 250, retryCapMs: 30_000 };

const SENSITIVE: Partial<Record<AuditAction, AlertSeverity>> = {
  [AuditAction.SECRET_ACCESSED]: 'medium',
  [AuditAction.SECRET_CREATED]: 'low',
  [AuditAction.SECRET_ROTATED]: 'medium',
  [AuditAction.SECRET_REVOKED]: 'high',
  [AuditAction.TENANT_KEY_DESTROYED]: 'high',
  [AuditAction.PERSONAL_DATA_SHREDDED]: 'medium',
  [AuditAction.UNAUTHORIZED_ACCESS]: 'medium',
  [AuditAction.POLICY_DELETED]: 'high',
  [AuditAction.ADMIN_ACTION]: 'medium',
  [AuditAction.API_KEY_CREATED]: 'low',
  [AuditAction.API_KEY_ROTATED]: 'medium',
  [AuditAction.API_KEY_REVOKED]: 'medium',
  [AuditAction.TENANT_CREATED]: 'low',
  // A retention shortened is how entries are made to go: a SIEM should hear of it.
  [AuditAction.CONFIG_CHANGED]: 'medium',
};

/** Bursts are tracked per source for at most this many sources at once (the oldest go first). */
const MAX_BURST_SOURCES = 10_000;

export interface SinkCounts {
  sent: number;
  failed: number;
  dropped: number;
  queued: number;
}

/** One sink's queue and its delivery loop. */
class SinkQueue {
  private queue: SecurityAlert[] = [];
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private closed = false;
  readonly counts: SinkCounts = { sent: 0, failed: 0, dropped: 0, queued: 0 };

  constructor(
    readonly sink: AlertSink,
    private readonly options: AlertOptions,
    private readonly logger: Logger,
    private readonly random: () => number,
  ) {}

  push(alert: SecurityAlert): void {
    if (this.queue.length >= this.options.maxQueue) {
      this.queue.shift();
      this.counts.dropped++;
    }
    this.queue.push(alert);
    this.counts.queued = this.queue.length;
    this.wake?.();
    this.running ??= this.loop();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed || this.queue.length > 0) {
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const batch = this.queue.slice(0, this.options.maxBatch);
      try {
        await this.sink.send(batch);
        this.queue.splice(0, batch.length);
        this.counts.sent += batch.length;
        if (failures > 0) this.logger.info({ sink: this.sink.name, sent: batch.length }, 'SIEM sink delivering again');
        failures = 0;
      } catch (error) {
        this.counts.failed += batch.length;
        if (failures === 0) this.logger.warn({ err: error, sink: this.sink.name, waiting: this.queue.length }, 'SIEM sink failed; retrying with backoff');
        failures++;
        if (this.closed) return;
        const backoff = this.random() * Math.min(this.options.retryCapMs, this.options.retryBaseMs * 2 ** Math.min(failures, 20));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoff);
          timer.unref();
          this.wake = () => {
            if (this.closed) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
        this.wake = undefined;
      }
      this.counts.queued = this.queue.length;
    }
  }

  /** Delivers what waits, for at most `graceMs`. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    this.wake?.();
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await this.sink.close();
  }
}

/**
 * Turns committed audit entries into alerts for the configured sinks: sensitive actions one by
 * one, failed authentications as bursts per source address. Never blocks the caller: each sink has
 * a bounded queue, delivered in batches with retries and full-jitter backoff.
 */
export class AlertDispatcher {
  private readonly queues: SinkQueue[];
  /** Failed authentications per source: when the current window began, how many, and whether it alerted. */
  private readonly bursts = new Map<string, { since: number; count: number; alerted: boolean }>();
  /** Sources forgotten to stay within MAX_BURST_SOURCES (their counts started again). */
  burstSourcesEvicted = 0;

  constructor(
    sinks: readonly AlertSink[],
    logger: Logger,
    private readonly options: AlertOptions = DEFAULT_ALERT_OPTIONS,
    random: () => number = Math.random,
  ) {
    this.queues = sinks.map((sink) => new SinkQueue(sink, options, logger, random));
  }

  get active(): boolean {
    return this.queues.length > 0;
  }

  /** Sources whose failed authentications are being counted now (bounded at 10,000). */
  get burstSources(): number {
    return this.bursts.size;
  }

  counts(): Array<{ sink: string } & SinkCounts> {
    return this.queues.map((q) => ({ sink: q.sink.name, ...q.counts }));
  }

  consider(entries: readonly AuditEntry[]): void {
    if (this.queues.length === 0) return;
    for (const entry of entries) {
      const alert = entry.action === AuditAction.AUTH_FAILURE ? this.burst(entry) : this.sensitive(entry);
      if (alert) for (const q of this.queues) q.push(alert);
    }
  }

  private sensitive(entry: AuditEntry): SecurityAlert | undefined {
    // A verification that found the log tampered with: the one check whose failure is an incident.
    const severity = entry.action === AuditAction.COMPLIANCE_CHECK ? (entry.status === 'failure' ? 'high' : undefined) : SENSITIVE[entry.action];
    if (!severity) return undefined;
    const who = entry.actor.keyId !== undefined ? `key ${entry.actor.keyId}` : entry.actor.type;
    const what = entry.resourceId !== undefined ? `${entry.resourceType} ${entry.resourceId}` : entry.resourceType;
    return { id: entry.id, kind: entry.action, severity, tenantId: entry.tenantId, at: entry.at, summary: `${entry.action} by ${who} on ${what} (${entry.status})`, entry, count: 1 };
  }

  private burst(entry: AuditEntry): SecurityAlert | undefined {
    const source = `${entry.tenantId}\u0000${entry.sourceIp ?? 'unknown'}`;
    let state = this.bursts.get(source);
    if (!state || entry.at - state.since >= this.options.authFailureWindowMs) {
      this.bursts.delete(source);
      if (this.bursts.size >= MAX_BURST_SOURCES) {
        this.bursts.delete(this.bursts.keys().next().value!);
        this.burstSourcesEvicted++;
      }
      state = { since: entry.at, count: 0, alerted: false };
      this.bursts.set(source, state);
    }
    state.count++;
    if (state.alerted || state.count < this.options.authFailureThreshold) return undefined;
    state.alerted = true;
    return {
      id: `burst:${entry.tenantId}:${entry.sourceIp ?? 'unknown'}:${state.since}`,
      kind: 'AUTH_FAILURE_BURST',
      severity: 'high',
      tenantId: entry.tenantId,
      at: entry.at,
      summary: `${state.count} failed authentications from ${entry.sourceIp ?? 'an unknown address'} within ${Math.round(this.options.authFailureWindowMs / 1000)} s`,
      entry,
      count: state.count,
    };
  }

  async close(graceMs = 2_000): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close(graceMs)));
  }
}
