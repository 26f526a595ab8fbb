/** The public API of the agentmesh package. Agents and clients usually want 'agentmesh/sdk'. */
export * from './domain/index.js';
export { Mesh } from './application/mesh.js';
export type { MeshPorts } from './application/mesh-context.js';
export type * from './application/ports.js';
export { DEFAULT_MESH_SETTINGS, type MeshSettings } from './application/settings.js';
export { loadConfig, ConfigError, type AgentMeshConfig } from './config.js';
export { startMesh, type RunningMesh } from './presentation/compose.js';
export { VERSION } from './version.js';
export { InMemoryBroker } from './infrastructure/messaging/in-memory-broker.js';
export { inMemoryCache } from './infrastructure/caching/caches.js';
export { DEFAULT_CACHE_SETTINGS, type CacheSettings } from './infrastructure/caching/tiered-cache.js';
export { AgentMeshMetrics, type MetricsOptions } from './infrastructure/observability/metrics.js';
export { openEmbeddedStore, type Store } from './infrastructure/persistence/embedded-store.js';
export { DataDirectoryInUseError } from './infrastructure/persistence/data-dir-lock.js';
export { AgentMeshClient, Agent, AgentMeshError, NonRetryableError } from './sdk/index.js';
