import type { FastifyInstance } from 'fastify';
import type { RateLimiter } from '../../../application/rate-limiter.js';
import { QuotaExceededError } from '../../../domain/index.js';

export interface RateLimitOptions {
  /** Told of each refused request. */
  onLimited?: (tenantId: string, scope: 'key' | 'tenant') => void;
  /** The counters could not be reached: the request goes through uncounted. */
  onCountersDown?: (error: unknown) => void;
}

/**
 * Counts every authenticated /v1 request against its key's and its tenant's limits (after
 * authentication), answers with the IETF draft's RateLimit headers, and refuses with 429,
 * Retry-After, past a limit. When the counters are down (Redis), requests go through: the mesh
 * degrades to no limit rather than to no service.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /** Refused for its rate: not recorded in the audit log (a flood of them must not fill it). */
    rateLimited?: boolean;
  }
}

export function registerRateLimit(app: FastifyInstance, limiter: RateLimiter, options: RateLimitOptions = {}): void {
  app.addHook('onRequest', async (request, reply) => {
    const caller = request.caller as typeof request.caller | undefined;
    // Set for /v1 requests and keyed requests to the A2A card.
    if (caller === undefined) return;
    let state: Awaited<ReturnType<RateLimiter['admit']>>;
    try {
      state = await limiter.admit(caller, Date.now());
    } catch (error) {
      if (error instanceof QuotaExceededError) {
        request.rateLimited = true;
        options.onLimited?.(caller.tenantId, error.details.quota === 'requestsPerMinutePerKey' ? 'key' : 'tenant');
        void reply.header('ratelimit-limit', String(error.details.limit)).header('ratelimit-remaining', '0').header('ratelimit-reset', String(error.details.retryAfterSeconds));
        throw error;
      }
      options.onCountersDown?.(error);
      return;
    }
    if (state === undefined) return;
    void reply
      .header('ratelimit-limit', String(state.limit))
      .header('ratelimit-remaining', String(state.remaining))
      .header('ratelimit-reset', String(state.resetSeconds))
      .header('ratelimit-policy', state.policies.join(', '));
  });
}
