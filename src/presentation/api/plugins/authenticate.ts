import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../../../application/caller.js';
import type { Authenticator } from '../../../application/use-cases/authenticate.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** Resolves the API key of every /v1 request to a caller before its handler runs. */
export function registerAuthentication(app: FastifyInstance, auth: Authenticator): void {
  app.decorateRequest('caller', undefined as unknown as Caller);
  app.addHook('onRequest', async (request) => {
    // A CORS preflight carries no key by design; the CORS plugin answers it (or it finds no route).
    if (!request.url.startsWith('/v1/') || request.method === 'OPTIONS') return;
    request.caller = await auth.authenticate(bearerToken(request));
  });
}
