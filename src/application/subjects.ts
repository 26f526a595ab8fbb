/** Broker subjects always carry the tenant, so one tenant's consumers never see another's messages. */

/** NATS tokens may not contain '.', '*', '>' or whitespace: percent-encode anything outside a safe set. */
export function subjectToken(id: string): string {
  // Percent-encode the UTF-8 bytes (and '%' itself), so distinct ids never share a token.
  return id.replace(/[^A-Za-z0-9_:-]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

export function agentInboxSubject(tenantId: string, agentId: string): string {
  return `agentmesh.${subjectToken(tenantId)}.agent.${subjectToken(agentId)}`;
}

export function taskSettledSubject(tenantId: string, taskId: string): string {
  return `agentmesh.${subjectToken(tenantId)}.task.${subjectToken(taskId)}.settled`;
}

/** Without Redis, instances tell each other here which cache entries to drop (a revoked key's, say). */
export const CACHE_INVALIDATED_SUBJECT = 'agentmesh._mesh.cache.invalidated';

/** Where a domain event is published: `agentmesh.<tenant>.events.<aggregate type>.<event type>`. */
export function eventSubject(tenantId: string, aggregateType: string, type: string): string {
  return `agentmesh.${subjectToken(tenantId)}.events.${subjectToken(aggregateType)}.${subjectToken(type)}`;
}
