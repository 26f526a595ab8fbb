import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** What a JSON API may let a browser do with its answers: nothing (OWASP REST Security). */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Helmet's security headers on every answer (nosniff, frame and referrer policies, HSTS, the
 * cross-origin policies). The Content-Security-Policy is the strictest for the API's JSON; the
 * Swagger UI under /docs sets its own, which lets its scripts run.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, { global: true, contentSecurityPolicy: false });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.url.startsWith('/docs') && reply.getHeader('content-security-policy') === undefined) void reply.header('content-security-policy', API_CSP);
    return payload;
  });
}
