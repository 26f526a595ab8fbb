import { Type } from 'typebox';
import type { Mesh } from '../../../application/mesh.js';
import { createTenantUseCase } from '../../../application/use-cases/create-tenant.js';
import { getTenant } from '../../../application/use-cases/get-tenant.js';
import { ApiKeyWithSecret, CreateTenantBody, errors, IdParams, Tenant } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { PLAIN } from '../../../domain/plain.js';

export function tenantRoutes(app: TypedApp, mesh: Mesh): void {
  app.post(
    '/v1/tenants',
    {
      schema: {
        tags: ['tenants'],
        summary: 'Create a tenant (platform admin key only); the answer carries its first admin key, shown once',
        security: bearerSecurity,
        body: CreateTenantBody,
        response: { 201: Type.Object({ tenant: Tenant, apiKey: ApiKeyWithSecret }), ...errors(409) },
      },
    },
    async (request, reply) => {
      const { tenant, apiKey } = await createTenantUseCase(mesh.ctx, request.caller, request.body);
      return reply.code(201).send({ tenant, apiKey: { ...PLAIN, ...apiKey, name: 'first admin', createdAt: tenant.createdAt } });
    },
  );

  app.get(
    '/v1/tenants/:id',
    {
      schema: { tags: ['tenants'], summary: 'A tenant and its quotas', security: bearerSecurity, params: IdParams, response: { 200: Tenant, ...errors(404) } },
    },
    async (request) => getTenant(mesh.ctx, request.caller, request.params.id),
  );
}
