import { Type } from 'typebox';
import type { Mesh } from '../../../application/mesh.js';
import { createApiKey, listApiKeys, revokeApiKey, rotateApiKey, setApiKeyRateLimit } from '../../../application/use-cases/manage-api-keys.js';
import { ApiKey, ApiKeyWithSecret, CreateApiKeyBody, errors, IdParams, UpdateApiKeyBody } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';

/** `keyLimitCeiling`: the most a tenant's admin may give a key (the instance's per-key limit); the platform admin may go above it. */
export function apiKeyRoutes(app: TypedApp, mesh: Mesh, keyLimitCeiling?: number): void {
  app.post(
    '/v1/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: "Create a key for the caller's tenant; the secret is shown once",
        security: bearerSecurity,
        body: CreateApiKeyBody,
        response: { 201: ApiKeyWithSecret, ...errors() },
      },
    },
    async (request, reply) => reply.code(201).send(await createApiKey(mesh.ctx, request.caller, request.body, keyLimitCeiling)),
  );

  app.get(
    '/v1/api-keys',
    { schema: { tags: ['api-keys'], summary: "The tenant's keys (never their secrets)", security: bearerSecurity, response: { 200: Type.Object({ items: Type.Array(ApiKey) }), ...errors() } } },
    async (request) => ({ items: await listApiKeys(mesh.ctx, request.caller) }),
  );

  app.post(
    '/v1/api-keys/:id/rotate',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Give a key a new secret, shown once; the old secret stops working at once on every instance',
        security: bearerSecurity,
        params: IdParams,
        response: { 200: ApiKeyWithSecret, ...errors(404) },
      },
    },
    async (request) => rotateApiKey(mesh.ctx, mesh.auth, request.caller, request.params.id),
  );

  app.patch(
    '/v1/api-keys/:id',
    {
      schema: {
        tags: ['api-keys'],
        summary: "Set a key's own rate limit (requests per minute), or return it to the instance's default; applies at once on every instance",
        security: bearerSecurity,
        params: IdParams,
        body: UpdateApiKeyBody,
        response: { 200: ApiKey, ...errors(404) },
      },
    },
    async (request) => setApiKeyRateLimit(mesh.ctx, mesh.auth, request.caller, request.params.id, request.body.rateLimitPerMinute, keyLimitCeiling),
  );

  app.delete(
    '/v1/api-keys/:id',
    { schema: { tags: ['api-keys'], summary: 'Revoke a key; it stops working at once', security: bearerSecurity, params: IdParams, response: { 204: Type.Null(), ...errors(404) } } },
    async (request, reply) => {
      await revokeApiKey(mesh.ctx, mesh.auth, request.caller, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
