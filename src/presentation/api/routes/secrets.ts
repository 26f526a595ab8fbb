import { Type } from 'typebox';
import type { Mesh } from '../../../application/mesh.js';
import { deleteSecret, destroyTenantKeys, getSecretMetadata, listSecrets, putSecret, rotateSecret } from '../../../application/use-cases/manage-secrets.js';
import { readTaskSecret, SecretDeniedError } from '../../../application/use-cases/read-task-secret.js';
import { errors, pageOf, PageQuery } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { DestroyTenantKeysBody, PutSecretBody, RotatedSecret, RotateSecretBody, SecretMetadataSchema, SecretNameParams, SecretValueSchema, TaskSecretParams } from './secret-schemas.js';
import { PLAIN } from '../../../domain/plain.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Why an access was refused, for the audit entry only (the caller gets a plain 404). */
    auditDenialReason?: string;
  }
  interface FastifyContextConfig {
    /** The request body holds a secret: never logged, not even sampled. */
    secretBody?: boolean;
  }
}

export function secretRoutes(app: TypedApp, mesh: Mesh): void {
  const tags = ['secrets'];
  const secretBody = { secretBody: true };

  app.put(
    '/v1/secrets/:name',
    {
      config: secretBody,
      schema: {
        tags,
        summary: 'Create a secret (201) or give it a new version (200), with the policy of who may read it; the value is never shown again',
        security: bearerSecurity,
        params: SecretNameParams,
        body: PutSecretBody,
        response: { 201: SecretMetadataSchema, 200: SecretMetadataSchema, ...errors() },
      },
    },
    async (request, reply) => {
      const { secret, created } = await putSecret(mesh.ctx, request.caller, request.params.name, request.body);
      return reply.code(created ? 201 : 200).send(secret);
    },
  );

  app.get(
    '/v1/secrets',
    { schema: { tags, summary: "The tenant's secrets by name: metadata and versions, never values", security: bearerSecurity, querystring: Type.Object(PageQuery), response: { 200: pageOf(SecretMetadataSchema), ...errors() } } },
    async (request) => {
      const { limit = 50, cursor } = request.query;
      return listSecrets(mesh.ctx, request.caller, { limit, ...(cursor !== undefined && { cursor }) });
    },
  );

  app.get(
    '/v1/secrets/:name',
    { schema: { tags, summary: "A secret's metadata and versions, never its value", security: bearerSecurity, params: SecretNameParams, response: { 200: SecretMetadataSchema, ...errors(404) } } },
    async (request) => getSecretMetadata(mesh.ctx, request.caller, request.params.name),
  );

  app.post(
    '/v1/secrets/:name/rotate',
    {
      config: secretBody,
      // No body at all is a rotation to a generated value, like an empty object.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        summary: 'A new version of a secret (policy unchanged); without a value, the mesh makes one and returns it once',
        security: bearerSecurity,
        params: SecretNameParams,
        body: RotateSecretBody,
        response: { 200: RotatedSecret, ...errors(404) },
      },
    },
    async (request, reply) => {
      const { secret, generatedValue } = await rotateSecret(mesh.ctx, request.caller, request.params.name, request.body.value);
      if (generatedValue !== undefined) void reply.header('cache-control', 'no-store');
      return { ...PLAIN, ...secret, ...(generatedValue !== undefined && { value: generatedValue }) };
    },
  );

  app.delete(
    '/v1/secrets/:name',
    { schema: { tags, summary: 'Delete a secret and every version of it', security: bearerSecurity, params: SecretNameParams, response: { 204: Type.Null(), ...errors(404) } } },
    async (request, reply) => {
      await deleteSecret(mesh.ctx, request.caller, request.params.name);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/tenant-keys/destroy',
    {
      schema: {
        tags,
        summary: "Crypto-shredding: destroy the tenant's keys, so that no secret written so far can ever be read again (admin)",
        security: bearerSecurity,
        body: DestroyTenantKeysBody,
        response: { 200: Type.Object({ destroyedKeys: Type.Integer({ description: 'Tenant key versions destroyed now (0 when none was live).' }) }), ...errors() },
      },
    },
    async (request) => destroyTenantKeys(mesh.ctx, request.caller, request.body.confirm),
  );

  app.get(
    '/v1/tasks/:id/secrets/:name',
    {
      schema: {
        tags,
        summary: "A secret's newest value, for the agent working the task (agent key, lease held, secret listed by the task and allowed by its policy)",
        description: 'Every other request is 404, recorded as UNAUTHORIZED_ACCESS; each read is recorded as SECRET_ACCESSED before the value is sent.',
        security: bearerSecurity,
        params: TaskSecretParams,
        response: { 200: SecretValueSchema, ...errors(404, 410) },
      },
    },
    async (request, reply) => {
      try {
        const secret = await readTaskSecret(mesh.ctx, request.caller, request.params.id, request.params.name);
        void reply.header('cache-control', 'no-store');
        return secret;
      } catch (error) {
        if (error instanceof SecretDeniedError) request.auditDenialReason = error.reason;
        throw error;
      }
    },
  );
}
