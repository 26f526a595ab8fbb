import type { FastifyInstance, FastifyReply } from 'fastify';

const DRAIN_TIMEOUT_MS = 5_000;

/**
 * On close, let in-flight requests finish (up to a bound) before the server destroys its
 * sockets. Streams and long polls are ended by their own preClose hooks, so hijacked replies
 * (SSE) are not waited for.
 */
export function registerGracefulClose(app: FastifyInstance): { drainLast(): void } {
  const open = new Set<FastifyReply>();
  app.addHook('onRequest', async (_request, reply) => {
    open.add(reply);
    reply.raw.once('close', () => open.delete(reply));
  });
  // preClose hooks run in order: this one goes last, after streams and long polls were told to end.
  const drainLast = () => app.addHook('preClose', async () => {
    const until = Date.now() + DRAIN_TIMEOUT_MS;
    const busy = () => [...open].some((reply) => !reply.sent);
    while (busy() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    const left = [...open].filter((reply) => !reply.sent).map((reply) => `${reply.request.method} ${reply.request.url}`);
    if (left.length > 0) app.log.warn({ requests: left.slice(0, 20), count: left.length }, 'requests still running after the drain period are cut off');
  });
  return { drainLast };
}
