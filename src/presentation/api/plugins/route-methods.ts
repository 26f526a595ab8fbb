import type { FastifyInstance, HTTPMethods } from 'fastify';

/**
 * The methods a path has routes for, to answer a wrong method with 405 and an Allow header. Which
 * methods have routes is gathered once, as routes are added (call this before any is); asking is
 * the router's own lookup of the path, once per such method: work only for a request that found no
 * route. A method whose routes include a catch-all (`*`, as CORS answers preflights with) cannot
 * tell one path from another, and is left out.
 */
export function trackRouteMethods(app: FastifyInstance): (url: string) => string[] {
  const routed = new Set<string>();
  const catchAll = new Set<string>();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) (route.url === '*' || route.url === '/*' ? catchAll : routed).add(method.toUpperCase());
  });
  let probed: HTTPMethods[] = [];
  app.addHook('onReady', async () => {
    probed = [...routed].filter((method) => !catchAll.has(method)).sort() as HTTPMethods[];
  });
  return (url) => probed.filter((method) => app.findRoute({ method, url }) !== null);
}
