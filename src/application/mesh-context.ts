import type { AuditEntry } from '../domain/index.js';
import type { AgentBreakers } from './agent-breakers.js';
import type { AgentDirectory } from './agent-directory.js';
import type { Dispatcher } from './dispatcher.js';
import type { KeyedMutex } from './keyed-mutex.js';
import type { Logger } from './logger.js';
import type { MeshStats } from './mesh-stats.js';
import type {
  AgentRepository,
  ApiKeyRepository,
  AuditStore,
  Cache,
  Clock,
  EventStore,
  IdGenerator,
  LiveAgentView,
  MeshMetrics,
  MessageBroker,
  RandomSource,
  RemoteAgentClient,
  PersonalDataVault,
  SecretRepository,
  SecretVault,
  TaskRepository,
  TenantRepository,
} from './ports.js';
import type { MeshSettings } from './settings.js';
import type { SkillResults } from './skill-results.js';
import type { TaskLifecycle } from './task-lifecycle.js';
import type { TaskWaiters } from './task-waiters.js';

export interface MeshPorts {
  tenants: TenantRepository;
  apiKeys: ApiKeyRepository;
  agents: AgentRepository;
  tasks: TaskRepository;
  events: EventStore;
  /** The tamper-evident audit log. */
  audit: AuditStore;
  /** Secrets' metadata and sealed versions, and the envelope encryption that seals and opens them. */
  secrets: SecretRepository;
  vault: SecretVault;
  /** The audit log's personal data, sealed per data subject. */
  personalData: PersonalDataVault;
  broker: MessageBroker;
  clock: Clock;
  ids: IdGenerator;
  random: RandomSource;
  logger: Logger;
  /** Hot reads (API keys, tenants), in memory and on Redis when configured, invalidated across instances. */
  cache: Cache;
  /** Agents' live state for every instance to read (Redis); absent when this instance's registry is the only reader. */
  liveAgents?: LiveAgentView;
  /** Prometheus in production; none when left out. */
  metrics?: MeshMetrics;
  /** Calls agents registered with an a2aUrl (A2A servers elsewhere); none: such agents get no tasks delivered. */
  remoteAgents?: RemoteAgentClient;
  /** Told of every entry the API records, to raise sensitive-action alerts; none when no SIEM is configured. */
  alerts?: { consider(entries: readonly AuditEntry[]): void };
}

/** Everything a use case may touch: the ports plus this instance's in-memory coordination state. */
export interface MeshContext extends Omit<MeshPorts, 'metrics'> {
  metrics: MeshMetrics;
  settings: MeshSettings;
  directory: AgentDirectory;
  dispatcher: Dispatcher;
  lifecycle: TaskLifecycle;
  /** The opt-in cache of skill results. */
  skillResults: SkillResults;
  breakers: AgentBreakers;
  taskLocks: KeyedMutex;
  agentLocks: KeyedMutex;
  waiters: TaskWaiters;
  stats: MeshStats;
}
