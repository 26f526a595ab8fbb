import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthFailureLimiter } from '../../../application/auth-failure-limiter.js';
import type { Caller } from '../../../application/caller.js';
import type { Authenticator } from '../../../application/use-cases/authenticate.js';
import { UnauthorizedError } from '../../../domain/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyInstance {
    /**
     * The request's bearer key as a caller, or UnauthorizedError; under the per-address limit on
     * failed authentications. Every route that takes a key outside /v1 (the detailed health,
     * metrics, the A2A card) authenticates through it, so none is a way round that limit.
     */
    authenticateRequest(request: FastifyRequest): Promise<Caller>;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/**
 * The bearer key, or UnauthorizedError saying what is wrong with an Authorization header that is
 * there but holds none. Never echoes the header: a key sent without its scheme would be in it.
 */
function presentedKey(request: FastifyRequest): string | undefined {
  const key = bearerToken(request);
  const header = request.headers.authorization;
  if (key !== undefined || !header) return key;
  if (/^Basic\s/iu.test(header)) throw new UnauthorizedError('Basic authentication is not accepted: send Authorization: Bearer <key>');
  throw new UnauthorizedError('the Authorization header holds no bearer key: send Authorization: Bearer <key>, one key after the word Bearer');
}

/**
 * The route outside /v1 whose keyed requests are authenticated up front, so that the rate limits
 * count them: the A2A agent card (a key there reads its tenant's agents). The platform admin's
 * detailed health and metrics authenticate in their handlers (under the failed-authentication
 * limit) and are not rate-limited: an operator must see them when a key is being throttled.
 */
const KEYED_OUTSIDE_V1 = new Set(['/.well-known/agent-card.json']);

/** The request's path as the router matched it (its route template), else as sent, without the query. */
export function routeOrPath(request: FastifyRequest): string {
  return request.routeOptions.url ?? request.url.split('?')[0]!;
}

/**
 * A /v1 request, by its matched route as well as its raw URL: the router decodes the path
 * (`/%761/tasks` reaches `/v1/tasks`), the raw URL keeps it encoded.
 */
export function isV1(request: FastifyRequest): boolean {
  return request.routeOptions.url?.startsWith('/v1/') === true || request.url.startsWith('/v1/');
}

export interface AuthFailureOptions {
  limiter: AuthFailureLimiter;
  /** An address went over the limit: it is refused from now on, for up to a minute. */
  onBlocked?: (address: string) => void;
  /** A request from a refused address. */
  onRefused?: () => void;
  /** The shared counters could not count a failure (it is not counted). */
  onCountersDown?: (error: unknown) => void;
}

/**
 * Resolves the API key of every /v1 request to a caller before its handler runs. An address that
 * failed to authenticate too often in the last minute, or has so many authentications under way
 * that they could take it there, is refused (429) before its key is looked up.
 */
export function registerAuthentication(app: FastifyInstance, auth: Authenticator, failures?: AuthFailureOptions): void {
  app.decorateRequest('caller', undefined as unknown as Caller);
  const limiter = failures?.limiter.active ? failures.limiter : undefined;
  const authenticateRequest = async (request: FastifyRequest): Promise<Caller> => {
    if (limiter === undefined) return auth.authenticate(presentedKey(request));
    // The header as sent stands for the guess: the same one on many connections at once is one.
    const guess = request.headers.authorization ?? '';
    let client: string;
    try {
      client = limiter.begin(request.ip, guess, Date.now());
    } catch (refusal) {
      // Like any rate-limited request: logged, counted, not audited (a flood must not fill the log).
      request.rateLimited = true;
      failures!.onRefused?.();
      throw refusal;
    }
    try {
      return await auth.authenticate(presentedKey(request));
    } catch (error) {
      if (error instanceof UnauthorizedError) {
        try {
          if (await limiter.failed(client, Date.now())) failures!.onBlocked?.(request.ip);
        } catch (countError) {
          failures!.onCountersDown?.(countError);
        }
      }
      throw error;
    } finally {
      // After the failure is counted: an attempt that starts meanwhile sees it.
      limiter.end(client, guess);
    }
  };
  app.decorate('authenticateRequest', authenticateRequest);
  app.addHook('onRequest', async (request) => {
    // A CORS preflight carries no key by design; the CORS plugin answers it (or it finds no route).
    if (request.method === 'OPTIONS') return;
    // Every /v1 request; and the A2A card when a key is sent (so that the rate limits count it too).
    const keyed = isV1(request) || (request.headers.authorization !== undefined && KEYED_OUTSIDE_V1.has(routeOrPath(request)));
    if (keyed) request.caller = await authenticateRequest(request);
  });
}
