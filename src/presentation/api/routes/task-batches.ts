import type { Static } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Mesh } from '../../../application/mesh.js';
import { itemProblem, type ProblemBody } from '../plugins/problem-details.js';
import { batchReply, errors, SettleBatchBody, SettleReply, SubmitBatchBody, SubmitTaskReply } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { parseTraceContext } from '../../../domain/index.js';
import { parseDeadline } from './deadline.js';
import { requestTraceContext } from './request-trace.js';
import { PLAIN } from '../../../domain/plain.js';

type ItemResult<T> = { status: number; body: T | ProblemBody };

/**
 * Runs every item as its own request would run, and answers each with its status and body, or its
 * problem. Items of the same `orderKey` (one idempotency key, one task) run one after another in
 * the batch's order, as separate requests sent in that order would: the first of them wins,
 * whatever the store. The others run side by side.
 */
function answerEach<I, T>(request: FastifyRequest, items: I[], path: string, run: (item: I) => Promise<ItemResult<T>>, orderKey: (item: I) => string | undefined): Promise<Array<ItemResult<T>>> {
  const lastOf = new Map<string, Promise<unknown>>();
  return Promise.all(
    items.map((item, i) => {
      const answer = () => run(item).catch((error: unknown) => itemProblem(error, `${path}[${i}]`, request.url, request.log));
      const key = orderKey(item);
      if (key === undefined) return answer();
      const previous = lastOf.get(key);
      const result = previous === undefined ? answer() : previous.then(answer);
      lastOf.set(key, result);
      return result;
    }),
  );
}

/**
 * Many submits or many settlements in one request: each item does exactly what its single
 * request would do (same checks, same answer), and they share one group commit. The request
 * fails as a whole only on a schema violation, before any item runs.
 */
export function taskBatchRoutes(app: TypedApp, mesh: Mesh): void {
  const tags = ['tasks'];

  app.post(
    '/v1/tasks/batch',
    {
      schema: {
        tags,
        summary: 'Submit up to 100 tasks; results[i] is what POST /v1/tasks would have answered for tasks[i]',
        security: bearerSecurity,
        body: SubmitBatchBody,
        response: { 200: batchReply(SubmitTaskReply), ...errors() },
      },
    },
    async (request) => {
      // One trace context for the whole batch: that of the request.
      const traceContext = requestTraceContext(request);
      const results = await answerEach(request, request.body.tasks, 'body.tasks', async (item): Promise<ItemResult<Static<typeof SubmitTaskReply>>> => {
        const { deadline, routing, ...rest } = item;
        const parsedDeadline = parseDeadline(deadline);
        const { created, ...task } = await mesh.commands.submitTask(request.caller, {
          ...PLAIN,
          ...rest,
          ...(routing !== undefined && { routing }),
          ...(parsedDeadline !== undefined && { deadline: parsedDeadline }),
          ...(traceContext !== undefined && { traceContext }),
        });
        return { status: created ? 202 : 200, body: { ...PLAIN, ...task, created } };
      }, (item) => item.idempotencyKey);
      return { results };
    },
  );

  app.post(
    '/v1/tasks/settle',
    {
      schema: {
        tags,
        summary: 'Report up to 100 outcomes (completed or failed) of tasks the agents hold; results[i] answers outcomes[i]',
        security: bearerSecurity,
        body: SettleBatchBody,
        response: { 200: batchReply(SettleReply), ...errors() },
      },
    },
    async (request) => ({
      results: await answerEach(request, request.body.outcomes, 'body.outcomes', async (item): Promise<ItemResult<Static<typeof SettleReply>>> => {
        const traceContext = parseTraceContext(item.traceparent, item.tracestate) ?? requestTraceContext(request);
        const common = { taskId: item.taskId, agentId: item.agentId, ...(traceContext !== undefined && { traceContext }) };
        const settlement =
          item.outcome === 'completed'
            ? { ...PLAIN, ...common, outcome: item.outcome, output: item.output }
            : { ...PLAIN, ...common, outcome: item.outcome, error: typeof item.error === 'string' ? { message: item.error } : item.error, retryable: item.retryable ?? true };
        return { status: 200, body: await mesh.commands.settleTask(request.caller, settlement) };
      }, (item) => item.taskId),
    }),
  );
}
