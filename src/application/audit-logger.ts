import { AuditAction, AuditStatus, boundedDetails, boundedText, NotFoundError, ValidationError, type AuditActor, type AuditEntry, type AuditRecord } from '../domain/index.js';
import { requireRole, type Caller } from './caller.js';
import type { Logger } from './logger.js';
import { gatherComplianceReport, type ComplianceReport, type Framework } from './compliance-report.js';
import type { ApiKeyRepository, AuditFilter, AuditStore, AuditVerifyRange, Clock, Page, PageRequest, PersonalDataVault, TenantRepository, VerifyReport } from './ports.js';
import { PLAIN } from '../domain/plain.js';

/** What a security event is: an entry to record, and a warning line for the operator at once. */
const SECURITY_ACTIONS: ReadonlySet<AuditAction> = new Set([AuditAction.AUTH_FAILURE, AuditAction.UNAUTHORIZED_ACCESS]);

/** What an entry's personal data is, in clear. */
type PersonalData = Pick<AuditRecord, 'sourceIp' | 'userAgent' | 'personalDetails'>;

const SUBJECT_ID = /^[A-Za-z0-9._:@-]{1,256}$/u;

/** Whom an entry's personal data is about, unless the record says: the key that acted, or the kind of actor. */
function defaultSubject(actor: AuditActor): string {
  return actor.type === 'key' && actor.keyId !== undefined ? actor.keyId : actor.type;
}

function personalOf(record: AuditRecord): PersonalData | undefined {
  const details = boundedDetails(record.personalDetails);
  const data: PersonalData = {
    ...PLAIN,
    ...(record.sourceIp !== undefined && { sourceIp: boundedText(record.sourceIp, 64) }),
    ...(record.userAgent !== undefined && { userAgent: boundedText(record.userAgent, 256) }),
    ...(details !== undefined && { personalDetails: details }),
  };
  return Object.keys(data).length > 0 ? data : undefined;
}

/**
 * The audit trail as the mesh uses it. Every method that records resolves once the entry is
 * committed to the tenant's hash chain, and rejects (UnavailableError) when it cannot be: the
 * caller fails closed rather than act unrecorded.
 */
export class AuditLogger {
  /** Failed authentications not recorded (the log was busy, or failed). */
  anonymousDropped = 0;

  constructor(
    private readonly store: AuditStore,
    private readonly logger: Logger,
    private readonly apiKeys: ApiKeyRepository,
    private readonly clock: Clock,
    private readonly tenants: TenantRepository,
    private readonly personal: PersonalDataVault,
    private readonly alerts?: { consider(entries: readonly AuditEntry[]): void },
  ) {}

  /**
   * The record as handed to the store: its personal data sealed under its subject's key, never in
   * clear. `seals` shares one seal among the records of one call with the same data (a batch's items).
   */
  private async sealed(record: AuditRecord, data: PersonalData | undefined, seals: Map<string, Promise<string>>): Promise<AuditRecord> {
    const { sourceIp: _ip, userAgent: _agent, personalDetails: _details, personal: _personal, personalShredded: _shredded, personalUnavailable: _unavailable, ...rest } = record;
    if (data === undefined) return rest;
    const subjectId = boundedText(record.subjectId ?? defaultSubject(record.actor), 256);
    const plaintext = JSON.stringify(data);
    const key = `${record.tenantId}\0${subjectId}\0${plaintext}`;
    let seal = seals.get(key);
    if (seal === undefined) {
      seal = this.personal.seal(record.tenantId, subjectId, Buffer.from(plaintext, 'utf8'));
      seals.set(key, seal);
    }
    return { ...PLAIN, ...rest, subjectId, personal: await seal };
  }

  /**
   * An entry as its readers see it: its personal data opened, or marked shredded, or marked
   * unavailable (sealed under a master key this instance lacks, or damaged: the chain says which).
   */
  private async opened(entry: AuditEntry): Promise<AuditEntry> {
    if (entry.personal === undefined || entry.subjectId === undefined) return entry;
    try {
      const plain = await this.personal.open(entry.tenantId, entry.subjectId, entry.personal);
      if (plain === undefined) return { ...PLAIN, ...entry, personalShredded: true };
      return { ...PLAIN, ...entry, ...(JSON.parse(plain.toString('utf8')) as PersonalData) };
    } catch (error) {
      this.logger.warn({ err: error, audit_id: entry.id, tenant_id: entry.tenantId }, "an audit entry's personal data could not be opened");
      return { ...PLAIN, ...entry, personalUnavailable: true };
    }
  }

  /** The tenant a call is about: the caller's own, or (the platform admin only) another that exists; else 404. */
  private async tenantFor(caller: Caller, tenantId: string | undefined): Promise<string> {
    const tenant = tenantId ?? caller.tenantId;
    if (tenant === caller.tenantId) return tenant;
    // The same answer for a tenant that does not exist as for one the caller may not see: nothing leaks.
    if (!caller.platform || !(await this.tenants.get(tenant))) throw new NotFoundError('tenant', tenant);
    return tenant;
  }

  async logAction(record: AuditRecord): Promise<AuditEntry> {
    return (await this.logActions([record]))[0]!;
  }

  /** Several entries, committed together; then the alert rules see them (without waiting for any delivery). */
  async logActions(records: readonly AuditRecord[]): Promise<AuditEntry[]> {
    const seals = new Map<string, Promise<string>>();
    const personal = records.map(personalOf);
    const stored = await this.store.append(await Promise.all(records.map((r, i) => this.sealed(r, personal[i], seals))));
    // Those who act on the entries now (alert rules, the security warning) see them as recorded, in clear.
    const entries = stored.map((entry, i) => ({ ...PLAIN, ...entry, ...personal[i] }));
    this.alerts?.consider(entries);
    return entries;
  }

  /**
   * Crypto-shredding for a data subject (an erasure request): destroys the subject's keys, so the
   * personal data of every entry about it can never be read again; the entries, their hashes and
   * the chain stay whole. Recorded as PERSONAL_DATA_SHREDDED.
   */
  async shredSubject(caller: Caller, tenantId: string | undefined, subjectId: string, context: Pick<AuditRecord, 'sourceIp' | 'userAgent' | 'traceId'> = {}): Promise<{ subjectId: string; destroyedKeys: number }> {
    requireRole(caller, ['admin'], "shred a data subject's personal data");
    const tenant = await this.tenantFor(caller, tenantId);
    if (!SUBJECT_ID.test(subjectId)) throw new ValidationError('subjectId must be 1-256 characters of [A-Za-z0-9._:@-]', 'subjectId');
    const destroyedKeys = await this.personal.shred(tenant, subjectId);
    await this.logAction({
      tenantId: tenant,
      actor: { type: 'key', keyId: caller.keyId, role: caller.role },
      action: AuditAction.PERSONAL_DATA_SHREDDED,
      resourceType: 'data_subject',
      resourceId: subjectId,
      status: AuditStatus.SUCCESS,
      ...context,
      details: { destroyedKeys },
    });
    return { subjectId, destroyedKeys };
  }

  /** A denied access, a failed authentication and the like: recorded, and logged as a warning. */
  async logSecurityEvent(record: AuditRecord): Promise<AuditEntry> {
    const entry = await this.logAction(record);
    this.logger.warn(
      { audit_id: entry.id, action: entry.action, tenant_id: entry.tenantId, key_id: entry.actor.keyId, resource: entry.resourceId, source_ip: entry.sourceIp, details: entry.details },
      'security event',
    );
    return entry;
  }

  /**
   * A failed authentication: nobody is known to hold the caller to account, so a flood of them must
   * not take the log from everyone else. Past half the write queue they are dropped (and counted),
   * and a failure to record one does not fail the (already refused) request.
   */
  async logAnonymous(record: AuditRecord): Promise<void> {
    if (this.store.load() >= 0.5) {
      this.anonymousDropped++;
      return;
    }
    try {
      await this.logSecurityEvent(record);
    } catch (error) {
      this.anonymousDropped++;
      this.logger.warn({ err: error, action: record.action, source_ip: record.sourceIp }, 'could not record a failed authentication');
    }
  }

  isSecurityAction(action: AuditAction): boolean {
    return SECURITY_ACTIONS.has(action);
  }

  /**
   * A tenant's entries, newest first, for its admins; the platform admin may read any tenant's.
   * The reading is itself recorded.
   */
  /**
   * Recomputes the caller's tenant's chain (the platform admin: any tenant's, or every chain when
   * none is named) and records the check as COMPLIANCE_CHECK with its verdict.
   */
  async verifyChains(caller: Caller, range: AuditVerifyRange, context: Pick<AuditRecord, 'sourceIp' | 'userAgent' | 'traceId'> = {}): Promise<VerifyReport> {
    requireRole(caller, ['admin'], 'verify the audit log');
    const tenantId = range.tenantId === undefined ? (caller.platform ? undefined : caller.tenantId) : await this.tenantFor(caller, range.tenantId);
    const report = await this.store.verify({ ...PLAIN, ...range, ...(tenantId !== undefined ? { tenantId } : {}) });
    const problem = report.chains.find((c) => c.problem);
    await this.logAction({
      tenantId: caller.tenantId,
      actor: { type: 'key', keyId: caller.keyId, role: caller.role },
      action: AuditAction.COMPLIANCE_CHECK,
      resourceType: 'audit_log',
      ...(tenantId !== undefined && { resourceId: tenantId }),
      status: report.intact ? AuditStatus.SUCCESS : AuditStatus.FAILURE,
      ...context,
      details: { check: 'chain verification', entries: report.entries, chains: report.chains.length, intact: report.intact, ...(problem && { tenant: problem.tenantId, problem: problem.problem }) },
    });
    if (!report.intact) this.logger.error({ tenant_id: problem?.tenantId, problem: problem?.problem }, 'the audit log failed verification');
    return report;
  }

  /**
   * A compliance report of a tenant's log for a period (the caller's tenant; the platform admin:
   * any), recorded as AUDIT_LOG_EXPORTED with the report's content hash.
   */
  async exportComplianceReport(
    caller: Caller,
    request: { framework: Framework; tenantId?: string; from: number; to: number },
    context: Pick<AuditRecord, 'sourceIp' | 'userAgent' | 'traceId'> = {},
  ): Promise<ComplianceReport> {
    requireRole(caller, ['admin'], 'export compliance reports');
    const tenantId = await this.tenantFor(caller, request.tenantId);
    if (request.to <= request.from) throw new ValidationError('to must be after from', 'to');
    const report = await gatherComplianceReport({ audit: this.store, apiKeys: this.apiKeys }, { framework: request.framework, tenantId, from: request.from, to: request.to }, { now: this.clock.now(), generatedBy: `key ${caller.keyId}` });
    await this.logAction({
      tenantId,
      actor: { type: 'key', keyId: caller.keyId, role: caller.role },
      action: AuditAction.AUDIT_LOG_EXPORTED,
      resourceType: 'compliance_report',
      resourceId: request.framework,
      status: AuditStatus.SUCCESS,
      ...context,
      details: { framework: request.framework, from: report.period.from, to: report.period.to, contentHash: report.contentHash, chainIntact: report.chain.intact },
    });
    return report;
  }

  /** The caller's tenant's retention (admins): days, or null for forever. */
  async retention(caller: Caller): Promise<{ days: number | null }> {
    requireRole(caller, ['admin'], 'read the audit retention');
    return { days: (await this.store.retention(caller.tenantId)) ?? null };
  }

  /** Sets how long the caller's tenant keeps its log (null: forever); recorded as CONFIG_CHANGED. */
  async setRetention(caller: Caller, days: number | null, context: Pick<AuditRecord, 'sourceIp' | 'userAgent' | 'traceId'> = {}): Promise<{ days: number | null }> {
    requireRole(caller, ['admin'], 'change the audit retention');
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > 36_500)) throw new ValidationError('days must be an integer from 1 to 36,500, or null to keep the log forever', 'days');
    const before = (await this.store.retention(caller.tenantId)) ?? null;
    await this.store.setRetention(caller.tenantId, days ?? undefined, this.clock.now());
    await this.logAction({
      tenantId: caller.tenantId,
      actor: { type: 'key', keyId: caller.keyId, role: caller.role },
      action: AuditAction.CONFIG_CHANGED,
      resourceType: 'audit_retention',
      status: AuditStatus.SUCCESS,
      ...context,
      details: { setting: 'audit retention days', from: before, to: days },
    });
    return { days };
  }

  /**
   * Prunes every tenant's entries past its retention (or one tenant's), each prune recorded in the
   * tenant's chain as ADMIN_ACTION by the mesh. Returns what was removed.
   */
  async prune(tenantId?: string, by: { caller: Caller; context: Pick<AuditRecord, 'sourceIp' | 'userAgent' | 'traceId'> } | undefined = undefined): Promise<Array<{ tenantId: string; entries: number; uptoSeq: number }>> {
    if (by) requireRole(by.caller, ['admin'], 'prune the audit log');
    const tenants = tenantId !== undefined ? [tenantId] : await this.store.tenantsWithRetention();
    const pruned: Array<{ tenantId: string; entries: number; uptoSeq: number }> = [];
    for (const tenant of tenants) {
      const result = await this.store.prune(tenant);
      if (!result) continue;
      pruned.push({ tenantId: tenant, ...result });
      await this.logAction({
        tenantId: tenant,
        actor: by ? { type: 'key', keyId: by.caller.keyId, role: by.caller.role } : { type: 'system' },
        action: AuditAction.ADMIN_ACTION,
        resourceType: 'audit_log',
        status: AuditStatus.SUCCESS,
        ...by?.context,
        details: { operation: 'retention prune', removedEntries: result.entries, upToSeq: result.uptoSeq, retentionDays: (await this.store.retention(tenant)) ?? null },
      });
    }
    return pruned;
  }

  async queryLogs(caller: Caller, tenantId: string | undefined, filter: AuditFilter, page: PageRequest, context: Pick<AuditRecord, 'sourceIp' | 'userAgent' | 'traceId'> = {}): Promise<Page<AuditEntry>> {
    requireRole(caller, ['admin'], 'read the audit log');
    const tenant = await this.tenantFor(caller, tenantId);
    const found = await this.store.query(tenant, filter, page);
    const result = { ...PLAIN, ...found, items: await Promise.all(found.items.map((e) => this.opened(e))) };
    await this.logAction({
      tenantId: tenant,
      actor: { type: 'key', keyId: caller.keyId, role: caller.role },
      action: AuditAction.AUDIT_LOG_EXPORTED,
      resourceType: 'audit_log',
      status: AuditStatus.SUCCESS,
      ...context,
      details: { filter: { ...filter }, returned: result.items.length },
    });
    return result;
  }
}
