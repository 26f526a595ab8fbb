import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { PLAIN } from '../../../domain/plain.js';

/** What a JSON API may let a browser do with its answers: nothing (OWASP REST Security). */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The headers helmet sets for these options, worked out once: they are the same for every answer
 * (helmet's middleware only sets and removes headers), so no request builds them again.
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => (failure = error));
  if (failure !== undefined) throw failure;
  return headers;
}

/**
 * Helmet's security headers on every answer (nosniff, frame and referrer policies, HSTS, the
 * cross-origin policies). The Content-Security-Policy is the strictest for the API's JSON; the
 * Swagger UI under /docs sets its own, which lets its scripts run, and so may a route (an HTML report).
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  const everywhere = helmetHeaders({ contentSecurityPolicy: false });
  const api = { ...PLAIN, ...everywhere, 'content-security-policy': API_CSP };
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(request.url.startsWith('/docs') ? everywhere : api);
    done();
  });
}
