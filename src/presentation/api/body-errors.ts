import type { FastifyInstance } from 'fastify';
import { BODY_ERRORS } from './schemas.js';
import { PLAIN } from '../../domain/plain.js';
import { sendProblem } from './plugins/problem-details.js';

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

/**
 * A body in a content coding the API does not decode (gzip, br, ...) is refused with 415 (RFC 9110,
 * section 8.4), not read as if it were plain JSON. A request with no body may carry the header: it
 * says nothing then.
 */
export function refuseContentCodings(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const coding = request.headers['content-encoding'];
    if (coding === undefined || coding.trim().toLowerCase() === 'identity') return;
    const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
    if (hasBody) return sendProblem(reply, request, 415, 'unsupported_media_type', `the API does not decode Content-Encoding '${coding.slice(0, 64)}': send the body uncompressed`);
  });
}
