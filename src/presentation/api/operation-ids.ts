import type { FastifyInstance } from 'fastify';
import { PLAIN } from '../../domain/plain.js';

/** Each route's operationId in the OpenAPI document: the method name a generated client gets. */
export const OPERATION_IDS: Readonly<Record<string, string>> = {
  'GET /health/live': 'getLiveness',
  'GET /.well-known/agent-card.json': 'getAgentCard',
  'POST /v1/a2a': 'callAgentToAgent',
  'GET /health/ready': 'getReadiness',
  'GET /health': 'getHealth',
  'GET /metrics': 'getMetrics',
  'POST /v1/tenants': 'createTenant',
  'GET /v1/tenants/:id': 'getTenant',
  'POST /v1/api-keys': 'createApiKey',
  'GET /v1/api-keys': 'listApiKeys',
  'POST /v1/api-keys/:id/rotate': 'rotateApiKey',
  'DELETE /v1/api-keys/:id': 'revokeApiKey',
  'PATCH /v1/api-keys/:id': 'updateApiKey',
  'POST /v1/agents': 'registerAgent',
  'GET /v1/agents': 'listAgents',
  'GET /v1/agents/:id': 'getAgent',
  'DELETE /v1/agents/:id': 'terminateAgent',
  'POST /v1/agents/:id/heartbeat': 'heartbeatAgent',
  'POST /v1/agents/:id/pause': 'pauseAgent',
  'POST /v1/agents/:id/resume': 'resumeAgent',
  'GET /v1/agents/:id/tasks/next': 'nextTask',
  'GET /v1/agents/:id/stream': 'streamTasks',
  'POST /v1/tasks': 'submitTask',
  'GET /v1/tasks': 'listTasks',
  'GET /v1/tasks/:id': 'getTask',
  'POST /v1/tasks/:id/complete': 'completeTask',
  'POST /v1/tasks/:id/fail': 'failTask',
  'POST /v1/tasks/:id/extend': 'extendLease',
  'POST /v1/tasks/:id/cancel': 'cancelTask',
  'POST /v1/tasks/batch': 'submitTasks',
  'POST /v1/tasks/settle': 'settleTasks',
  'GET /v1/dead-letters': 'listDeadLetters',
  'POST /v1/dead-letters/:id/requeue': 'requeueDeadLetter',
  'GET /v1/audit': 'queryAuditLog',
  'GET /v1/audit/verify': 'verifyAuditLog',
  'GET /v1/audit/retention': 'getAuditRetention',
  'PUT /v1/audit/retention': 'setAuditRetention',
  'POST /v1/audit/prune': 'pruneAuditLog',
  'POST /v1/audit/subjects/:subjectId/shred': 'shredDataSubject',
  'GET /v1/compliance/reports': 'getComplianceReport',
  'PUT /v1/secrets/:name': 'putSecret',
  'GET /v1/secrets/:name': 'getSecret',
  'DELETE /v1/secrets/:name': 'deleteSecret',
  'GET /v1/secrets': 'listSecrets',
  'POST /v1/secrets/:name/rotate': 'rotateSecret',
  'POST /v1/tenant-keys/destroy': 'destroyTenantKeys',
  'GET /v1/tasks/:id/secrets/:name': 'readTaskSecret',
  'GET /v1/cache/stats': 'getCacheStats',
  'POST /v1/cache/warm': 'warmCache',
};

/** Gives every documented route its operationId as it is added; a documented route without one is a build fault. */
export function registerOperationIds(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.schema === undefined || route.schema.hide === true || methods.every((m) => m === 'HEAD' || m === 'OPTIONS')) return;
    const method = methods.find((m) => m !== 'HEAD')!;
    const id = OPERATION_IDS[`${method} ${route.url}`];
    if (id === undefined) throw new Error(`no operationId for ${method} ${route.url}: add it to OPERATION_IDS`);
    route.schema = { ...PLAIN, ...route.schema, operationId: id };
  });
}
