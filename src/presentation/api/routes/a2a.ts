import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from '@fastify/type-provider-typebox';
import { AGENT_CARD_PATH, AgentCard, A2A_VERSION_HEADER, SSE_HEADERS, formatSSEErrorEvent, formatSSEEvent } from '@a2a-js/sdk';
import { isLegacyJsonRpcMethod, isV1JsonRpcMethod } from '@a2a-js/sdk/compat/v0_3';
import type { Caller } from '../../../application/caller.js';
import type { Mesh } from '../../../application/mesh.js';
import { liveCapabilities } from '../../../application/use-cases/query-agents.js';
import { QuotaExceededError } from '../../../domain/index.js';
import { agentCard } from '../../a2a/agent-card.js';
import { dispatchJsonRpc, type JsonRpcAnswer, type JsonRpcResponse } from '../../a2a/jsonrpc-dispatch.js';
import { withKeepalive } from '../../a2a/keepalive.js';
import { MeshA2AHandler } from '../../a2a/mesh-request-handler.js';
import { TenantSlots } from '../../../application/tenant-slots.js';
import type { AuditedChange } from '../audited-routes.js';
import { auditLateRefusal } from '../plugins/audit.js';
import { bearerToken } from '../plugins/authenticate.js';
import { A2AAgentCard, JsonRpcRequest, JsonRpcReply, errors } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import type { ApiMetrics } from './metrics.js';
import { PLAIN } from '../../../domain/plain.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What an A2A request changed or was refused, for its audit entries. */
    a2aAudit?: AuditedChange[];
  }
}

export const A2A_ENDPOINT = '/v1/a2a';
export const AGENT_CARD_ROUTE = `/${AGENT_CARD_PATH}`;
/** Skills on one card: a tenant with more capabilities lists the first, by name. */
const MAX_SKILLS = 256;
/** How often an open stream looks at its task when no settlement woke it (assignment, start, retry). */
const STREAM_POLL_MS = 500;
/** A comment on a quiet stream this often, as on the agents' streams. */
const KEEPALIVE_MS = 15_000;

export interface A2ARouteOptions {
  version: string;
  /** Open streams (SendStreamingMessage, SubscribeToTask) per tenant on this instance. */
  maxStreamsPerTenant: number;
  /** The URL clients reach the mesh at; unset: as each request came (scheme and Host). */
  publicUrl?: string;
  metrics?: ApiMetrics;
}

/** The endpoint the card names: under the configured public URL, or where this request reached the mesh. */
function endpointUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  const base = publicUrl?.replace(/\/+$/u, '') ?? `${request.protocol}://${request.host}`;
  return `${base}${A2A_ENDPOINT}`;
}

const knownMethod = (method: string | undefined) => (method !== undefined && (isV1JsonRpcMethod(method) || isLegacyJsonRpcMethod(method)) ? method : 'other');

/**
 * The mesh as an A2A agent: its card at /.well-known/agent-card.json, and the JSON-RPC endpoint
 * at /v1/a2a (authenticated, rate-limited and audited like every /v1 route). See docs/a2a.md.
 */
export async function a2aRoutes(app: TypedApp, mesh: Mesh, options: A2ARouteOptions): Promise<void> {
  const tags = ['a2a'];
  const streams = new TenantSlots(options.maxStreamsPerTenant);
  // On shutdown, streams end instead of holding the close.
  // One entry per request under way (not a listener each on one signal: hundreds would trip Node's leak warning).
  const hangUps = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const hangUp of [...hangUps]) hangUp();
  });

  const cardFor = async (request: FastifyRequest, caller: Caller | undefined) =>
    agentCard(caller && (await liveCapabilities(mesh.ctx, caller, MAX_SKILLS)), { endpointUrl: endpointUrl(request, options.publicUrl), version: options.version });

  app.get(
    AGENT_CARD_ROUTE,
    {
      schema: {
        tags,
        summary: "The A2A agent card: with an API key, the key's tenant (skills: the capabilities of its live agents); without, the public card (no skills)",
        security: [{}, ...bearerSecurity],
        response: { 200: A2AAgentCard, ...errors() },
      },
    },
    async (request, reply) => {
      const token = bearerToken(request);
      // A key presented must be good: a bad one is refused, not taken for no key.
      const caller = token === undefined ? undefined : (request.caller ?? (await app.authenticateRequest(request)));
      const card = AgentCard.toJSON(await cardFor(request, caller));
      // The public card may be kept by shared caches only when its endpoint is fixed (AGENTMESH_PUBLIC_URL): else the endpoint
      // comes from the request's Host (or X-Forwarded-Host behind a trusted proxy), which a cache keyed on the path would serve to all.
      const shareable = !caller && options.publicUrl !== undefined;
      void reply.header('cache-control', shareable ? 'public, max-age=300' : 'private, no-cache').header('vary', 'Authorization');
      return reply.type('application/json').send(card as Static<typeof A2AAgentCard>);
    },
  );

  // Its own scope: the body is read as text (a parse error is JSON-RPC's -32700, not a problem+json 400), and
  // the schema only documents the envelope; the SDK's transport handlers check the rest.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['application/json', 'application/a2a+json'], { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.setValidatorCompiler(() => () => true);
    (scope as unknown as TypedApp).post(
      A2A_ENDPOINT,
      {
        schema: {
          tags,
          summary: 'A2A JSON-RPC 2.0: SendMessage, SendStreamingMessage (SSE), GetTask, CancelTask, SubscribeToTask, and the A2A 0.3 names (message/send, message/stream, tasks/get, tasks/cancel, tasks/resubscribe)',
          security: bearerSecurity,
          body: JsonRpcRequest,
          produces: ['application/json', 'text/event-stream'],
          response: { 200: JsonRpcReply, ...errors(503) },
        },
      },
      async (request, reply) => {
        const caller = request.caller;
        const hangUp = new AbortController();
        const stop = () => hangUp.abort();
        hangUps.add(stop);
        reply.raw.once('close', () => {
          hangUps.delete(stop);
          stop();
        });
        const handler = new MeshA2AHandler(mesh, caller, {
          card: () => cardFor(request, caller),
          skills: () => liveCapabilities(mesh.ctx, caller, MAX_SKILLS),
          streamPollMs: STREAM_POLL_MS,
          signal: hangUp.signal,
        });
        request.a2aAudit = handler.audit;
        const version = request.headers[A2A_VERSION_HEADER.toLowerCase()];
        const rpc = await dispatchJsonRpc(request.body as unknown as string, typeof version === 'string' ? version : undefined, handler);
        if (handler.httpError) throw handler.httpError;
        if (!(Symbol.asyncIterator in rpc.answer)) {
          options.metrics?.a2aRequest?.(knownMethod(rpc.method), rpc.answer.error ? 'error' : 'result');
          return reply.type('application/json').send(withoutInternals(rpc.answer, request) as Static<typeof JsonRpcReply>);
        }
        return stream(rpc, handler, caller, request, reply, hangUp.signal);
      },
    );
  });

  /**
   * Whether the key that opened a stream still authenticates (the check is the cached one every
   * request makes); a refusal is audited like one answered.
   */
  const keyStillGood = (token: string | undefined, request: FastifyRequest) =>
    mesh.auth.authenticate(token).then(
      () => true,
      (error: unknown) => {
        auditLateRefusal(mesh.audit, request, error, 'an A2A stream');
        return false;
      },
    );

  async function stream(rpc: JsonRpcAnswer, handler: MeshA2AHandler, caller: Caller, request: FastifyRequest, reply: FastifyReply, hungUp: AbortSignal) {
    const events = rpc.answer as AsyncGenerator<JsonRpcResponse, void, undefined>;
    const release = streams.take(caller.tenantId);
    if (!release) {
      options.metrics?.a2aStreamRefused?.(caller.tenantId);
      await events.return();
      throw new QuotaExceededError(`tenant '${caller.tenantId}' has ${options.maxStreamsPerTenant} A2A streams open on this instance`, {
        quota: 'maxA2AStreamsPerTenant',
        limit: options.maxStreamsPerTenant,
        retryAfterSeconds: 1,
      });
    }
    options.metrics?.a2aStreamsChanged?.(caller.tenantId, 1);
    const done = () => {
      release();
      options.metrics?.a2aStreamsChanged?.(caller.tenantId, -1);
    };
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      done();
    };
    // On the request's own hang-up signal: the client may have gone before this point, its 'close' already past.
    hungUp.addEventListener('abort', close, { once: true });
    if (hungUp.aborted) {
      // Gone before anything was submitted: submit nothing, hold no slot.
      close();
      await events.return();
      return reply;
    }
    let first: IteratorResult<JsonRpcResponse, void>;
    try {
      // The message is submitted here: its errors are answered as one JSON-RPC error, or over HTTP.
      first = await events.next();
    } catch (error) {
      close();
      if (handler.httpError) throw handler.httpError;
      options.metrics?.a2aRequest?.(knownMethod(rpc.method), 'error');
      return reply.type('application/json').send(withoutInternals({ jsonrpc: '2.0', id: rpc.id, error: rpc.errorOf(error) }, request));
    }
    options.metrics?.a2aRequest?.(knownMethod(rpc.method), 'stream');
    const token = bearerToken(request);
    async function* frames(): AsyncGenerator<string> {
      try {
        if (!first.done) yield formatSSEEvent(first.value);
        for await (const event of withKeepalive(events, KEEPALIVE_MS, undefined)) {
          // A key revoked while the stream is open gets nothing more: the stream ends at its next frame.
          if (!(await keyStillGood(token, request))) return;
          yield event === undefined ? ': keepalive\n\n' : formatSSEEvent(event);
        }
      } catch (error) {
        request.log.warn({ err: error }, 'A2A stream ended by an error');
        yield formatSSEErrorEvent(withoutInternals({ jsonrpc: '2.0', id: rpc.id, error: rpc.errorOf(error) }, request));
      } finally {
        close();
      }
    }
    void reply.headers(SSE_HEADERS);
    return reply.send(Readable.from(frames()));
  }
}

/** An internal error's message is the server's business: it is logged, and the client learns only that it happened. */
function withoutInternals(response: JsonRpcResponse, request: FastifyRequest): JsonRpcResponse {
  if (response.error?.code !== -32603) return response;
  request.log.error({ a2a_error: response.error }, 'A2A request failed inside the mesh');
  return { ...PLAIN, ...response, error: { code: -32603, message: 'Internal error' } };
}
