import type { FastifyInstance } from 'fastify';
import { BODY_ERRORS } from './schemas.js';
import { PLAIN } from '../../domain/plain.js';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Documents 413 and 415 on every route whose method may carry a body, as it is added: Fastify
 * reads a body on any such route, schema or not, and refuses one too large or not JSON.
 */
export function documentBodyErrors(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (response === undefined || ![route.method].flat().some((m) => BODY_METHODS.has(m))) return;
    route.schema = { ...PLAIN, ...route.schema, response: { ...PLAIN, ...response, ...BODY_ERRORS } };
  });
}
