/** What an audit entry records. The seed's list, plus TASK_SUBMITTED, the key actions and the secret store's. */
export const AuditAction = {
  AGENT_CREATED: 'AGENT_CREATED',
  AGENT_UPDATED: 'AGENT_UPDATED',
  AGENT_TERMINATED: 'AGENT_TERMINATED',
  AGENT_RESTARTED: 'AGENT_RESTARTED',
  TASK_SUBMITTED: 'TASK_SUBMITTED',
  TASK_ASSIGNED: 'TASK_ASSIGNED',
  TASK_COMPLETED: 'TASK_COMPLETED',
  TASK_FAILED: 'TASK_FAILED',
  TASK_CANCELLED: 'TASK_CANCELLED',
  TASK_RETRIED: 'TASK_RETRIED',
  TASK_DEAD_LETTERED: 'TASK_DEAD_LETTERED',
  MESSAGE_ROUTED: 'MESSAGE_ROUTED',
  MESSAGE_DELIVERED: 'MESSAGE_DELIVERED',
  MESSAGE_FAILED: 'MESSAGE_FAILED',
  AUTH_SUCCESS: 'AUTH_SUCCESS',
  AUTH_FAILURE: 'AUTH_FAILURE',
  UNAUTHORIZED_ACCESS: 'UNAUTHORIZED_ACCESS',
  API_KEY_CREATED: 'API_KEY_CREATED',
  API_KEY_REVOKED: 'API_KEY_REVOKED',
  API_KEY_ROTATED: 'API_KEY_ROTATED',
  SECRET_CREATED: 'SECRET_CREATED',
  SECRET_ACCESSED: 'SECRET_ACCESSED',
  SECRET_ROTATED: 'SECRET_ROTATED',
  SECRET_REVOKED: 'SECRET_REVOKED',
  /** A tenant's key-encryption key destroyed: every secret it sealed is unreadable for good. */
  TENANT_KEY_DESTROYED: 'TENANT_KEY_DESTROYED',
  /** A data subject's keys destroyed: the personal data of every entry about them is unreadable for good. */
  PERSONAL_DATA_SHREDDED: 'PERSONAL_DATA_SHREDDED',
  POLICY_CREATED: 'POLICY_CREATED',
  POLICY_UPDATED: 'POLICY_UPDATED',
  POLICY_DELETED: 'POLICY_DELETED',
  TENANT_CREATED: 'TENANT_CREATED',
  CONFIG_CHANGED: 'CONFIG_CHANGED',
  AUDIT_LOG_EXPORTED: 'AUDIT_LOG_EXPORTED',
  COMPLIANCE_CHECK: 'COMPLIANCE_CHECK',
  ADMIN_ACTION: 'ADMIN_ACTION',
} as const;
export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];
export const AUDIT_ACTIONS: readonly AuditAction[] = Object.values(AuditAction);

export const AuditStatus = { SUCCESS: 'success', FAILURE: 'failure', DENIED: 'denied', TIMEOUT: 'timeout', UNKNOWN: 'unknown' } as const;
export type AuditStatus = (typeof AuditStatus)[keyof typeof AuditStatus];
export const AUDIT_STATUSES: readonly AuditStatus[] = Object.values(AuditStatus);

/** Who did it: an API key (with its role, and its agent for an agent key), the mesh itself, or an operator at the database (the CLI). */
export interface AuditActor {
  type: 'key' | 'system' | 'anonymous' | 'operator';
  keyId?: string;
  role?: string;
  agentId?: string;
}

export const SYSTEM_ACTOR: AuditActor = { type: 'system' };

/** An entry as a caller hands it in; the log gives it its id, time, place in the chain and hash. */
export interface AuditRecord {
  tenantId: string;
  /** When it happened (epoch ms); when appended, if left out. */
  at?: number;
  actor: AuditActor;
  action: AuditAction;
  resourceType: string;
  resourceId?: string;
  status: AuditStatus;
  sourceIp?: string;
  userAgent?: string;
  traceId?: string;
  details?: Record<string, unknown>;
  /**
   * Whom the entry's personal data (source address, user agent, personal details) is about: by
   * default the key that acted, or `anonymous`. That data is kept sealed under this subject's key.
   */
  subjectId?: string;
  /** Details that are personal data (a person's name, say): sealed with the address and user agent. */
  personalDetails?: Record<string, unknown>;
  /** The personal data as stored and hashed: sealed (set by the audit logger, never by callers). */
  personal?: string;
  /** Set when reading: the subject's keys were destroyed, so the personal data can never be read. */
  personalShredded?: boolean;
  /** Set when reading: the personal data cannot be opened here (sealed under a master key this instance lacks). */
  personalUnavailable?: boolean;
}

/** An entry as stored: `seq` is its place in its tenant's chain, `hash` covers it and `prevHash`. */
export interface AuditEntry extends AuditRecord {
  id: string;
  seq: number;
  at: number;
  prevHash: string;
  hash: string;
}

export const MAX_AUDIT_DETAILS_BYTES = 4096;
const MAX_TEXT = 512;
const MAX_DEPTH = 4;
const SECRET_KEY = /(secret|password|passwd|token|authorization|api[-_]?key|credential|private[-_]?key|cookie)/iu;
export const REDACTED = '[REDACTED]';
const utf8 = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/gu;

/**
 * A string as it may be stored: cut to a bound at a code point (never inside a surrogate pair),
 * well-formed (a lone surrogate replaced), without NUL. PostgreSQL's json refuses both of those.
 */
/** A NUL, or a lone surrogate (under the u flag a pair is one code point, outside the range). */
const NEEDS_CLEANING = /[\u0000\uD800-\uDFFF]/u;

export function boundedText(value: unknown, max = MAX_TEXT): string {
  let text = typeof value === 'string' ? value : String(value);
  if (text.length <= max && !NEEDS_CLEANING.test(text)) return text;
  if (text.includes('\u0000')) text = text.replaceAll('\u0000', '');
  if (text.length > max) {
    // Back off one unit when the cut would split a surrogate pair.
    const end = /[\uD800-\uDBFF]/u.test(text[max - 1] ?? '') ? max - 1 : max;
    text = `${text.slice(0, end)}…`;
  }
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

function cleanValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return boundedText(value);
  if (typeof value === 'bigint') return value.toString();
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => cleanValue(v, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>).slice(0, 50)) {
      if (v === undefined) continue;
      out[boundedText(k, 128)] = SECRET_KEY.test(k) ? REDACTED : cleanValue(v, depth + 1);
    }
    return out;
  }
  return String(value);
}

/**
 * Details as they may be stored: secrets redacted by key name, strings and collections bounded,
 * and the whole no larger than MAX_AUDIT_DETAILS_BYTES (else replaced by a note of its size).
 */
export function boundedDetails(details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (details === undefined) return undefined;
  const clean = cleanValue(details, 0) as Record<string, unknown>;
  const bytes = utf8.encode(JSON.stringify(clean)).length;
  if (bytes <= MAX_AUDIT_DETAILS_BYTES) return clean;
  return { truncated: true, bytes, keys: Object.keys(clean).slice(0, 20) };
}
