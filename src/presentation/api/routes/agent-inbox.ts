import { Type } from 'typebox';
import type { Mesh } from '../../../application/mesh.js';
import { InboxConnections } from '../inbox-connections.js';
import { auditLateRefusal } from '../plugins/audit.js';
import { bearerToken } from '../plugins/authenticate.js';
import { DeliveredTask, errors, IdParams, WaitQuery } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';

const KEEPALIVE_MS = 15_000;

export interface AgentInboxOptions {
  /** Open streams and long polls per agent on this instance; one past it ends the agent's oldest. */
  maxConnectionsPerAgent: number;
  metrics?: {
    inboxConnectionsChanged?(tenantId: string, delta: 1 | -1): void;
    inboxConnectionDisplaced?(tenantId: string): void;
  };
}

/**
 * How an agent receives its tasks: long poll, or a Server-Sent Events stream. Either counts as a
 * heartbeat; an open stream re-checks its key and heartbeats at every keepalive.
 */
export function agentInboxRoutes(app: TypedApp, mesh: Mesh, options: AgentInboxOptions): void {
  const tags = ['delivery'];
  const connections = new InboxConnections(options.maxConnectionsPerAgent, {
    onChange: (tenantId, delta) => options.metrics?.inboxConnectionsChanged?.(tenantId, delta),
    onDisplaced: (tenantId) => options.metrics?.inboxConnectionDisplaced?.(tenantId),
  });
  // On shutdown, end open streams and long polls instead of waiting for them.
  const shutdown = new AbortController();
  app.addHook('preClose', async () => shutdown.abort());

  app.get(
    '/v1/agents/:id/tasks/next',
    {
      schema: {
        tags,
        summary: 'Long poll: the next task assigned to this agent (200), or 204 when none came within waitMs',
        security: bearerSecurity,
        params: IdParams,
        querystring: WaitQuery,
        response: { 200: DeliveredTask, 204: Type.Null(), ...errors(404, 409) },
      },
    },
    async (request, reply) => {
      // The response's 'close' fires when the caller hangs up before we answer.
      const abort = new AbortController();
      const onShutdown = () => abort.abort();
      let release = () => {};
      reply.raw.once('close', () => {
        release();
        abort.abort();
        shutdown.signal.removeEventListener('abort', onShutdown);
      });
      shutdown.signal.addEventListener('abort', onShutdown, { once: true });
      // Gone already (hung up while the key was checked): 'close' will not come again.
      if (reply.raw.destroyed || request.raw.socket?.destroyed) abort.abort();
      const token = bearerToken(request);
      // Each slice of the wait re-checks the key and counts as a heartbeat.
      const keepAlive = async () => mesh.keepAgentAlive(await mesh.auth.authenticate(token), request.params.id);
      // Once the caller may act as the agent: past the agent's bound, its oldest connection ends (a displaced poll answers 204 at once).
      const admitted = () => {
        release = connections.take(request.caller.tenantId, request.params.id, () => abort.abort());
      };
      const task = await mesh.delivery.next(request.caller, request.params.id, request.query.waitMs ?? 0, { signal: abort.signal, keepAlive, admitted }).finally(() => release());
      if (!task) return reply.code(204).send(null);
      return task;
    },
  );

  app.get(
    '/v1/agents/:id/stream',
    {
      schema: {
        tags,
        summary: 'Server-Sent Events: each assigned task is pushed as an event named "task" whose data is the task JSON',
        security: bearerSecurity,
        params: IdParams,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errors(404, 409) },
      },
    },
    async (request, reply) => {
      const raw = reply.raw;
      // Listen for the hang-up before any await: a caller gone during set-up must leave nothing behind.
      let open = true;
      let subscription: { unsubscribe(): void } | undefined;
      let keepalive: NodeJS.Timeout | undefined;
      let release: (() => void) | undefined;
      const cleanUp = () => {
        open = false;
        release?.();
        clearInterval(keepalive);
        subscription?.unsubscribe();
        shutdown.signal.removeEventListener('abort', onShutdown);
      };
      const end = () => {
        if (!open) return;
        cleanUp();
        if (!raw.writableEnded) raw.end();
      };
      const onShutdown = () => {
        end();
        raw.socket?.destroySoon();
      };
      raw.once('close', end);
      shutdown.signal.addEventListener('abort', onShutdown, { once: true });
      const write = (chunk: string) =>
        new Promise<void>((resolve, reject) => {
          if (!open) return reject(new Error('stream closed'));
          raw.write(chunk, (error) => (error ? reject(error) : resolve()));
        });
      try {
        // Validate before hijacking, so a bad agent id still gets a problem+json 404, and a key
        // that may not receive this agent's tasks a 403 that says so.
        await mesh.delivery.receiver(request.caller, request.params.id);
        await mesh.commands.heartbeatAgent(request.caller, request.params.id);
        subscription = await mesh.delivery.stream(request.caller, request.params.id, (task) =>
          write(`event: task\nid: ${task.id}:${task.attempt}\ndata: ${JSON.stringify(task)}\n\n`),
        );
      } catch (error) {
        // Not hijacked yet: Fastify answers with the problem.
        cleanUp();
        raw.off('close', end);
        throw error;
      }
      reply.hijack();
      if (!open || raw.destroyed) return end();
      // Past the agent's bound, its oldest connection ends (a displaced stream closes; the SDK reconnects).
      release = connections.take(request.caller.tenantId, request.params.id, end);
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      raw.write(': connected\n\n');
      const token = bearerToken(request);
      const every = Math.min(KEEPALIVE_MS, Math.floor(mesh.ctx.settings.heartbeatTimeoutMs / 3));
      keepalive = setInterval(() => {
        mesh.auth
          .authenticate(token)
          .then((caller) => mesh.keepAgentAlive(caller, request.params.id))
          .then(() => open && raw.write(': keepalive\n\n'))
          // A revoked key or a removed agent ends the stream, and the refusal is audited like one answered.
          .catch((error: unknown) => {
            if (!open) return;
            end();
            auditLateRefusal(mesh.audit, request, error, 'an agent stream');
          });
      }, every);
    },
  );
}
