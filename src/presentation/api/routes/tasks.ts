import { Type } from 'typebox';
import type { Mesh } from '../../../application/mesh.js';
import { getTask, listTasks } from '../../../application/use-cases/query-tasks.js';
import { CompleteBody, errors, ExtendBody, FailBody, IdParams, pageOf, SubmitTaskBody, SubmitTaskReply, Task, TaskListQuery, WaitQuery } from '../schemas.js';
import { bearerToken } from '../plugins/authenticate.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { parseDeadline } from './deadline.js';
import { requestTraceContext } from './request-trace.js';
import { PLAIN } from '../../../domain/plain.js';

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Retries with the same key return the first task (200, created false); the same key with a different request is 409.' })),
});

export function taskRoutes(app: TypedApp, mesh: Mesh): void {
  const tags = ['tasks'];
  app.post(
    '/v1/tasks',
    {
      schema: {
        tags,
        summary: 'Submit a task; it is routed to a capable agent. 202 with its id and status',
        security: bearerSecurity,
        headers: IdempotencyHeaders,
        body: SubmitTaskBody,
        response: { 202: SubmitTaskReply, 200: SubmitTaskReply, ...errors(409, 429, 503) },
      },
    },
    async (request, reply) => {
      const { deadline, routing, ...rest } = request.body;
      const idempotencyKey = request.headers['idempotency-key'];
      const traceContext = requestTraceContext(request);
      const parsedDeadline = parseDeadline(deadline);
      const { id, status, created, cached } = await mesh.commands.submitTask(request.caller, {
        ...PLAIN,
        ...rest,
        ...(routing !== undefined && { routing }),
        ...(parsedDeadline !== undefined && { deadline: parsedDeadline }),
        ...(idempotencyKey !== undefined && { idempotencyKey }),
        ...(traceContext !== undefined && { traceContext }),
      });
      void reply.header('location', `/v1/tasks/${id}`);
      return reply.code(created ? 202 : 200).send({ id, status, created, ...(cached === true && { cached }) });
    },
  );

  app.get(
    '/v1/tasks',
    { schema: { tags, summary: 'List tasks, newest first, filtered by status, capability or agent', security: bearerSecurity, querystring: TaskListQuery, response: { 200: pageOf(Task), ...errors() } } },
    async (request) => {
      const { limit = 50, cursor, status, capability, agentId } = request.query;
      return listTasks(
        mesh.ctx,
        request.caller,
        { ...PLAIN, ...(status !== undefined && { status }), ...(capability !== undefined && { capability }), ...(agentId !== undefined && { agentId }) },
        { limit, ...(cursor !== undefined && { cursor }) },
      );
    },
  );

  app.get(
    '/v1/tasks/:id',
    { schema: { tags, summary: 'A task; with waitMs, waits until it settles (completed, failed, dead_lettered, canceled)', security: bearerSecurity, params: IdParams, querystring: WaitQuery, response: { 200: Task, ...errors(404) } } },
    async (request, reply) => {
      const waitMs = request.query.waitMs ?? 0;
      if (waitMs <= 0) return getTask(mesh.ctx, request.caller, request.params.id);
      // A caller that hangs up frees its place among its tenant's bounded waits at once.
      const hungUp = new AbortController();
      reply.raw.once('close', () => hungUp.abort());
      const task = await getTask(mesh.ctx, request.caller, request.params.id, waitMs, hungUp.signal);
      // The key may have been revoked during the wait: what the task became is not for it any more (401).
      await mesh.auth.authenticate(bearerToken(request));
      return task;
    },
  );

  app.post(
    '/v1/tasks/:id/complete',
    { schema: { tags, summary: 'The holding agent reports success; repeating it is harmless', security: bearerSecurity, params: IdParams, body: CompleteBody, response: { 200: Task, ...errors(404, 409) } } },
    async (request) => mesh.commands.completeTask(request.caller, request.params.id, request.body.agentId, request.body.output, requestTraceContext(request)),
  );

  app.post(
    '/v1/tasks/:id/fail',
    { schema: { tags, summary: 'The holding agent reports failure; retryable failures (the default) are retried with backoff until maxAttempts, then dead-lettered', security: bearerSecurity, params: IdParams, body: FailBody, response: { 200: Task, ...errors(404, 409) } } },
    async (request) => {
      const { agentId, error, retryable = true } = request.body;
      const taskError = typeof error === 'string' ? { message: error } : error;
      return mesh.commands.failTask(request.caller, request.params.id, agentId, taskError, retryable, requestTraceContext(request));
    },
  );

  app.post(
    '/v1/tasks/:id/extend',
    { schema: { tags, summary: 'The holding agent extends its lease to now + leaseMs', security: bearerSecurity, params: IdParams, body: ExtendBody, response: { 200: Task, ...errors(404, 409) } } },
    async (request) => mesh.commands.extendTaskLease(request.caller, request.params.id, request.body.agentId, request.body.leaseMs),
  );

  app.post(
    '/v1/tasks/:id/cancel',
    { schema: { tags, summary: 'Cancel a task that has not settled', security: bearerSecurity, params: IdParams, response: { 200: Task, ...errors(404, 409) } } },
    async (request) => mesh.commands.cancelTask(request.caller, request.params.id),
  );
}
