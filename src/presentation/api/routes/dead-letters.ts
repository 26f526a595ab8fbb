import { Type } from 'typebox';
import type { Mesh } from '../../../application/mesh.js';
import { listDeadLetters } from '../../../application/use-cases/dead-letters.js';
import { errors, IdParams, pageOf, PageQuery, Task } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { PLAIN } from '../../../domain/plain.js';

export function deadLetterRoutes(app: TypedApp, mesh: Mesh): void {
  const tags = ['dead-letters'];
  app.get(
    '/v1/dead-letters',
    {
      schema: {
        tags,
        summary: 'Tasks that used up their attempts',
        security: bearerSecurity,
        querystring: Type.Object({ ...PLAIN, ...PageQuery, capability: Type.Optional(Type.String({ maxLength: 128 })) }),
        response: { 200: pageOf(Task), ...errors() },
      },
    },
    async (request) => {
      const { limit = 50, cursor, capability } = request.query;
      return listDeadLetters(mesh.ctx, request.caller, capability, { limit, ...(cursor !== undefined && { cursor }) });
    },
  );

  app.post(
    '/v1/dead-letters/:id/requeue',
    { schema: { tags, summary: 'Put a dead-lettered task back in its queue with fresh attempts', security: bearerSecurity, params: IdParams, response: { 200: Task, ...errors(404, 409) } } },
    async (request) => mesh.commands.requeueDeadLetter(request.caller, request.params.id),
  );
}
