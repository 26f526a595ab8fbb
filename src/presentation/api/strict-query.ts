import type { FastifyInstance } from 'fastify';
import { PLAIN } from '../../domain/plain.js';

/** The query of a route that takes no parameters. */
const NO_PARAMETERS = { type: 'object', properties: {}, additionalProperties: false } as const;
/** One strict copy of each query schema, however many routes share it (it is compiled once). */
const strictCopies = new WeakMap<object, object>();

function strict(query: object): object {
  let copy = strictCopies.get(query);
  if (copy === undefined) {
    copy = { ...PLAIN, ...query, additionalProperties: false };
    strictCopies.set(query, copy);
  }
  return copy;
}

/**
 * A query parameter an API route (`/v1/...`) does not take is refused (400 naming it), as an
 * unknown body field is: ignored, `?tenant=other` on a route without it would act on the caller's
 * own tenant. Health checks, metrics and the documents are left to what probes and scrapers send.
 */
export function refuseUnknownQueryParameters(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/')) return;
    const query = route.schema?.querystring as Record<string, unknown> | undefined;
    if (query !== undefined && query.additionalProperties !== undefined) return;
    route.schema = { ...PLAIN, ...route.schema, querystring: query === undefined ? NO_PARAMETERS : strict(query) };
  });
}
