import type { Mesh } from '../../../application/mesh.js';
import { cacheStats } from '../../../application/use-cases/cache-stats.js';
import { errors } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { CacheStatsReport } from './cache-schemas.js';

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
}
