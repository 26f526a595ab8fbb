import type { FastifyInstance } from 'fastify';
import { UnavailableError } from '../../../domain/index.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * While `reason()` says why (a follower whose NATS namespace or Redis is not the leader's), every
 * change through the API is refused with 503, not only those sent to the leader: a key or a tenant
 * made here, or a key revoked here, would be announced where the rest of the mesh does not hear.
 */
export function holdChangesWhile(app: FastifyInstance, reason: () => string | undefined): void {
  app.addHook('preHandler', async (request) => {
    if (READS.has(request.method)) return;
    const held = reason();
    if (held !== undefined) throw new UnavailableError(held, 10);
  });
}
