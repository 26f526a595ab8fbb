import type { Mesh } from '../../../application/mesh.js';
import { cacheStats } from '../../../application/use-cases/cache-stats.js';
import { warmCache } from '../../../application/use-cases/warm-cache.js';
import { errors } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { CacheStatsReport, WarmCacheBody, WarmReport } from './cache-schemas.js';

export function cacheRoutes(app: TypedApp, mesh: Mesh): void {
  app.get(
    '/v1/cache/stats',
    {
      schema: {
        tags: ['cache'],
        summary: "This instance's cache: hits, misses and hit rate by tier and kind, L1's size (admins; the counts cover every tenant, so only the platform admin key gets them)",
        security: bearerSecurity,
        response: { 200: CacheStatsReport, ...errors() },
      },
    },
    async (request) => cacheStats(mesh.ctx, request.caller),
  );

  app.post(
    '/v1/cache/warm',
    {
      // No body at all warms what an empty object does (a JSON null is a wrong body, refused).
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
      schema: {
        tags: ['cache'],
        summary: "Preload this instance's cache now: tenant configurations and agent rosters (admins; recorded as ADMIN_ACTION)",
        security: bearerSecurity,
        body: WarmCacheBody,
        response: { 200: WarmReport, ...errors(404) },
      },
    },
    async (request) => warmCache(mesh.ctx, mesh.cacheWarmer, request.caller, request.body.tenantId),
  );
}
