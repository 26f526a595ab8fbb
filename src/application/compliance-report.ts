import { sha256Hex } from './sha256.js';
import { canonicalJson } from './canonical-json.js';
import type { ApiKeyRecord, ApiKeyRepository, AuditEvidence, AuditStore, AuditVerifyRange, ChainReport, VerifyReport } from './ports.js';
import { PLAIN } from '../domain/plain.js';

export const FRAMEWORKS = ['hipaa', 'gdpr', 'soc2'] as const;

/** What the reports count as key and administrative actions; reads and verifications of the log are counted apart. */
export const KEY_AND_ADMIN_ACTIONS = ['API_KEY_CREATED', 'API_KEY_ROTATED', 'API_KEY_REVOKED', 'TENANT_CREATED', 'AGENT_TERMINATED', 'TASK_RETRIED', 'POLICY_CREATED', 'POLICY_UPDATED', 'POLICY_DELETED', 'CONFIG_CHANGED', 'ADMIN_ACTION'] as const;

/** The latest key and administrative actions a report lists (its figure counts them all). */
export const KEY_AND_ADMIN_EVENTS_LISTED = 100;
export type Framework = (typeof FRAMEWORKS)[number];

export interface EvidenceItem {
  label: string;
  value: string | number;
  /** Rows behind the figure (bounded), when it has any. */
  rows?: Array<Record<string, string | number | null>>;
}

export interface ControlReport {
  id: string;
  name: string;
  /** What the control asks for, in a sentence. */
  requirement: string;
  /** `evidence`: the log holds what the control asks for; `attention`: it holds something an auditor must look at. */
  status: 'evidence' | 'attention';
  evidence: EvidenceItem[];
  findings: string[];
}

export interface ComplianceReport {
  framework: Framework;
  title: string;
  tenantId: string;
  period: { from: string; to: string };
  generatedAt: string;
  generatedBy: string;
  /** The chain the report was built on: verified from the start of the period to its head. */
  chain: {
    intact: boolean;
    entriesVerified: number;
    head: { seq: number; hash: string } | null;
    checkpoint: { seq: number; hash: string; at: string; keyId: string; signature: string } | null;
    signaturesTrusted: boolean;
    problem: { seq: number; entryId?: string; reason: string } | null;
  };
  summary: { entries: number; byStatus: Record<string, number>; byAction: Record<string, number> };
  controls: ControlReport[];
  /** SHA-256 (hex) of the RFC 8785 form of everything above: a copy of the report can be checked against it. */
  contentHash: string;
}

export interface ReportInput {
  framework: Framework;
  tenantId: string;
  from: number;
  to: number;
  now: number;
  generatedBy: string;
  evidence: AuditEvidence;
  chain: ChainReport;
  signaturesTrusted: boolean;
  keys: readonly ApiKeyRecord[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Sums of the evidence's counts, by action, by status, or by one action's statuses. */
function tally(evidence: AuditEvidence) {
  const byAction: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  for (const c of evidence.counts) {
    byAction[c.action] = (byAction[c.action] ?? 0) + c.count;
    byStatus[c.status] = (byStatus[c.status] ?? 0) + c.count;
  }
  const of = (action: string, status?: string) =>
    evidence.counts.filter((c) => c.action === action && (status === undefined || c.status === status)).reduce((n, c) => n + c.count, 0);
  const total = Object.values(byAction).reduce((n, c) => n + c, 0);
  return { byAction, byStatus, of, total };
}

type Tally = ReturnType<typeof tally>;

/** The evidence shared by several controls. */
function commonEvidence(input: ReportInput, t: Tally) {
  const { evidence, chain, keys } = input;
  const live = keys.filter((k) => k.revokedAt === undefined);
  const integrity: EvidenceItem[] = [
    { label: 'Entries in the period', value: t.total },
    { label: 'Hash chain verified from the start of the period to its head', value: chain.problem ? `BROKEN at entry ${chain.problem.seq}: ${chain.problem.reason}` : `intact (${chain.entries} entries)` },
    { label: 'Chain head', value: evidence.head ? `#${evidence.head.seq} ${evidence.head.hash}` : 'no entries' },
    {
      label: 'Latest signed checkpoint',
      value: evidence.checkpoint ? `#${evidence.checkpoint.seq} at ${iso(evidence.checkpoint.at)}, key ${evidence.checkpoint.keyId}` : 'none yet',
    },
    {
      label: 'Append-only enforcement',
      value: "database triggers refuse UPDATE and TRUNCATE of the log, and DELETE but a retention's prune up to a signed checkpoint; the schema's owner and superusers can get past them, which the verification above shows",
    },
  ];
  const denied: EvidenceItem = {
    label: 'Denied accesses (wrong role, or another tenant\'s resource)',
    value: t.of('UNAUTHORIZED_ACCESS'),
    rows: evidence.deniedByKey.map((d) => ({ key: d.keyId, role: d.role, denied: d.count, first: iso(d.first), last: iso(d.last) })),
  };
  const keyEvents: EvidenceItem = {
    label: `Key and administrative actions (the latest ${KEY_AND_ADMIN_EVENTS_LISTED} listed)`,
    value: KEY_AND_ADMIN_ACTIONS.reduce((n, action) => n + t.of(action), 0),
    rows: evidence.keyAndAdminEvents.map((e) => ({ at: iso(e.at), action: e.action, by: e.keyId, resource: e.resourceId, status: e.status })),
  };
  const keysByRole: EvidenceItem = {
    label: 'Live API keys by role (now)',
    value: live.length,
    rows: ['admin', 'orchestrator', 'agent', 'observer'].map((role) => ({ role, keys: live.filter((k) => k.role === role).length })),
  };
  const authentication: EvidenceItem[] = [
    { label: 'Successful authentications recorded (each key at most once per interval per instance)', value: t.of('AUTH_SUCCESS') },
    { label: 'Distinct keys that acted', value: evidence.distinctKeys },
    { label: 'Keys created / rotated / revoked', value: `${t.of('API_KEY_CREATED', 'success')} / ${t.of('API_KEY_ROTATED', 'success')} / ${t.of('API_KEY_REVOKED', 'success')}` },
    { label: 'Agent keys bound to one agent', value: `${live.filter((k) => k.role === 'agent' && k.agentId !== undefined).length} of ${live.filter((k) => k.role === 'agent').length}` },
    {
      label: 'Failed authentications',
      value: input.tenantId === 'default' ? t.of('AUTH_FAILURE') : 'recorded in the platform tenant (default): a key that fails to authenticate names no tenant',
    },
  ];
  const securityTimeline: EvidenceItem = {
    label: 'Security events per day (UTC)',
    value: t.of('UNAUTHORIZED_ACCESS') + t.of('AUTH_FAILURE'),
    rows: evidence.securityByDay.map((d) => ({ day: d.day, event: d.action, count: d.count })),
  };
  const processing: EvidenceItem = {
    label: 'Tasks submitted, by capability (the processing activities)',
    value: t.of('TASK_SUBMITTED', 'success'),
    rows: evidence.processing.map((p) => ({ capability: p.capability, submitted: p.submitted })),
  };
  const outcomes: EvidenceItem = {
    label: 'Tasks completed / failed / dead-lettered / canceled',
    value: `${t.of('TASK_COMPLETED', 'success')} / ${t.of('TASK_FAILED')} / ${t.of('TASK_DEAD_LETTERED')} / ${t.of('TASK_CANCELLED')}`,
  };
  const agents: EvidenceItem = { label: 'Agents registered / changed / terminated', value: `${t.of('AGENT_CREATED', 'success')} / ${t.of('AGENT_UPDATED')} / ${t.of('AGENT_TERMINATED', 'success')}` };
  const reviews: EvidenceItem = { label: 'Reads of the log, and verifications of it', value: `${t.of('AUDIT_LOG_EXPORTED')} / ${t.of('COMPLIANCE_CHECK')}` };
  const secrets: EvidenceItem = {
    label: 'Secrets: values read by agents for their tasks / written or rotated / deleted / tenant keys destroyed (refused reads are among the denied accesses)',
    value: `${t.of('SECRET_ACCESSED', 'success')} / ${t.of('SECRET_CREATED', 'success') + t.of('SECRET_ROTATED', 'success')} / ${t.of('SECRET_REVOKED', 'success')} / ${t.of('TENANT_KEY_DESTROYED', 'success')}`,
  };
  const erasure: EvidenceItem[] = [
    { label: 'How personal data is kept in the log', value: "a caller's address, user agent and personal details are sealed under a key of their data subject (AES-256-GCM); destroying the key erases them and leaves every hash and the chain intact" },
    { label: "Erasure requests carried out in the period (a data subject's keys destroyed; a repeat destroys none)", value: t.of('PERSONAL_DATA_SHREDDED', 'success') },
  ];
  return { integrity, denied, keyEvents, keysByRole, authentication, securityTimeline, processing, outcomes, agents, reviews, secrets, erasure };
}

function control(id: string, name: string, requirement: string, evidence: EvidenceItem[], findings: string[]): ControlReport {
  return { id, name, requirement, status: findings.length > 0 ? 'attention' : 'evidence', evidence, findings };
}

function controlsFor(input: ReportInput, t: Tally): ControlReport[] {
  const e = commonEvidence(input, t);
  const chainFindings = input.chain.problem ? [`The audit chain is broken at entry ${input.chain.problem.seq}: ${input.chain.problem.reason}. Entries from there on cannot be relied on.`] : [];
  const checkpointFindings = input.evidence.checkpoint === undefined && t.total > 0 ? ['No signed checkpoint covers the chain yet.'] : [];
  const deniedFindings = t.of('UNAUTHORIZED_ACCESS') > 0 ? [`${t.of('UNAUTHORIZED_ACCESS')} denied access attempt(s): review the keys listed.`] : [];
  const unbound = input.keys.filter((k) => k.revokedAt === undefined && k.role === 'agent' && k.agentId === undefined).length;
  const keyFindings = unbound > 0 ? [`${unbound} live agent key(s) bound to no agent: they are refused every agent action; revoke them.`] : [];
  switch (input.framework) {
    case 'hipaa':
      return [
        control('164.312(b)', 'Audit controls', 'Record and examine activity in systems that contain or use electronic protected health information.', [...e.integrity, e.outcomes, e.agents, e.reviews], [...chainFindings, ...checkpointFindings]),
        control('164.312(a)(1)', 'Access control', 'Allow access only to the persons or software programs that have been granted access rights.', [e.keysByRole, e.denied, e.secrets], [...deniedFindings, ...keyFindings]),
        control('164.312(c)(1)', 'Integrity', 'Protect electronic protected health information from improper alteration or destruction.', e.integrity, chainFindings),
        control('164.312(d)', 'Person or entity authentication', 'Verify that a person or entity seeking access is the one claimed.', [...e.authentication, e.keyEvents], keyFindings),
      ];
    case 'gdpr':
      return [
        control('Art. 30', 'Records of processing activities', 'Keep a record of the processing activities under the controller\'s responsibility.', [e.processing, e.outcomes, e.agents], []),
        control('Art. 32', 'Security of processing', 'Ensure a level of security appropriate to the risk, including the ability to ensure ongoing integrity and to test and evaluate its effectiveness.', [...e.integrity, e.denied, ...e.authentication, e.reviews], [...chainFindings, ...checkpointFindings, ...keyFindings]),
        control('Art. 33', 'Notification of a personal data breach (inputs)', 'Have the facts of a possible breach at hand: what happened, when, and how many attempts.', [e.securityTimeline, e.denied], deniedFindings),
        control('Art. 17', 'Right to erasure', "Erase a data subject's personal data without undue delay when asked, including in records kept for accountability.", e.erasure, []),
      ];
    case 'soc2':
      return [
        control('CC6.1', 'Logical access security', 'Restrict logical access to information assets with access controls, credentials and their lifecycle.', [e.keysByRole, ...e.authentication, e.keyEvents, e.secrets], keyFindings),
        control('CC6.6', 'Threats from outside the system boundary', 'Detect and refuse access from outside the entity\'s boundaries and to what a caller may not see.', [e.denied, e.securityTimeline], deniedFindings),
        control('CC7.2', 'Monitoring of system components', 'Monitor the system and its components for anomalies, with records that cannot be silently altered.', [...e.integrity, e.outcomes, e.agents], [...chainFindings, ...checkpointFindings]),
        control('CC7.3', 'Evaluation of security events', 'Evaluate security events to decide whether they are incidents.', [e.securityTimeline, e.denied, e.reviews], deniedFindings),
      ];
  }
}

const TITLES: Record<Framework, string> = {
  hipaa: 'HIPAA Security Rule: technical safeguards (45 CFR 164.312)',
  gdpr: 'GDPR: records of processing, security, breach inputs and erasure (Art. 30, 32, 33, 17)',
  soc2: 'SOC 2: common criteria CC6 and CC7',
};

/** The report an auditor reads: per control of the framework, the evidence from the log and what needs a look; sealed by a content hash. */
export function buildComplianceReport(input: ReportInput): ComplianceReport {
  const t = tally(input.evidence);
  const { evidence, chain } = input;
  const body: Omit<ComplianceReport, 'contentHash'> = {
    framework: input.framework,
    title: TITLES[input.framework],
    tenantId: input.tenantId,
    period: { from: iso(input.from), to: iso(input.to) },
    generatedAt: iso(input.now),
    generatedBy: input.generatedBy,
    chain: {
      intact: chain.problem === undefined,
      entriesVerified: chain.entries,
      head: evidence.head ?? null,
      checkpoint: evidence.checkpoint ? { ...PLAIN, ...evidence.checkpoint, at: iso(evidence.checkpoint.at) } : null,
      signaturesTrusted: input.signaturesTrusted,
      problem: chain.problem ?? null,
    },
    summary: { entries: t.total, byStatus: t.byStatus, byAction: t.byAction },
    controls: controlsFor(input, t),
  };
  return { ...PLAIN, ...body, contentHash: reportHash(body) };
}

/** The content hash of a report's body (every field but contentHash). */
export function reportHash(body: Omit<ComplianceReport, 'contentHash'>): string {
  return sha256Hex(`agentmesh/compliance-report/v1\n${canonicalJson(body)!}`);
}

export interface ReportRequest {
  framework: Framework;
  tenantId: string;
  from: number;
  to: number;
}

/**
 * Gathers a report's evidence (the period's counts, the tenant's keys) and verifies the tenant's
 * chain from the start of the period to its head, then builds the report.
 */
export async function gatherComplianceReport(
  ports: { audit: AuditStore; apiKeys: ApiKeyRepository },
  request: ReportRequest,
  context: { now: number; generatedBy: string; verify?: (range: AuditVerifyRange) => Promise<VerifyReport> },
): Promise<ComplianceReport> {
  const verify = context.verify ?? ((range: AuditVerifyRange) => ports.audit.verify(range));
  const [evidence, verification, keys] = await Promise.all([
    ports.audit.evidence(request.tenantId, request.from, request.to),
    verify({ tenantId: request.tenantId, from: request.from }),
    ports.apiKeys.list(request.tenantId),
  ]);
  const chain = verification.chains.find((c) => c.tenantId === request.tenantId) ?? { tenantId: request.tenantId, entries: 0, headSeq: 0, checkpoints: 0 };
  return buildComplianceReport({ ...PLAIN, ...request, now: context.now, generatedBy: context.generatedBy, evidence, chain, signaturesTrusted: verification.signaturesTrusted, keys });
}
