/** Broker subjects always carry the tenant, so one tenant's consumers never see another's messages. */

/** NATS tokens may not contain '.', '*', '>' or whitespace: percent-encode anything outside a safe set. */
export function subjectToken(id: string): string {
  return id.replace(/[^A-Za-z0-9_:-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function agentInboxSubject(tenantId: string, agentId: string): string {
  return `agentmesh.${subjectToken(tenantId)}.agent.${subjectToken(agentId)}`;
}

export function taskSettledSubject(tenantId: string, taskId: string): string {
  return `agentmesh.${subjectToken(tenantId)}.task.${subjectToken(taskId)}.settled`;
}
