import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/**
 * Browsers may call the API from these origins only (none unless configured). Preflights are
 * answered without a key; the headers a client needs to read (Location, Retry-After, the trace
 * context) are exposed.
 */
export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return;
  await app.register(cors, {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'traceparent', 'tracestate'],
    exposedHeaders: ['location', 'retry-after', 'traceparent', 'www-authenticate', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-policy'],
    maxAge: 600,
    strictPreflight: true,
  });
}
