import type { Task } from '../domain/index.js';
import { skillResultCacheKey } from './cache-keys.js';
import type { Logger } from './logger.js';
import type { Cache } from './ports.js';

export interface SkillResultSettings {
  /** Off by default: a task's `cache` is then ignored. */
  enabled: boolean;
  /** A result whose JSON is longer is not kept. */
  maxEntryBytes: number;
}

export const DEFAULT_SKILL_RESULTS: SkillResultSettings = { enabled: false, maxEntryBytes: 64 * 1024 };

interface KeptResult {
  output: unknown;
}

/**
 * The opt-in cache of skill results: a task that sets `cache` and completes leaves its output for
 * identical tasks (same tenant, capability, canonical input or key) during its `ttlSeconds`;
 * such a task then completes at submit, without an agent.
 */
export class SkillResults {
  /** Results not kept for being longer than `maxEntryBytes`. */
  tooLarge = 0;

  constructor(
    private readonly cache: Cache,
    readonly settings: SkillResultSettings,
    private readonly logger: Logger,
  ) {}

  /** The kept output for a task like this one; undefined when none (or the cache cannot say: the task then runs). */
  async lookup(task: Task): Promise<KeptResult | undefined> {
    if (!this.settings.enabled || task.cache === undefined) return undefined;
    try {
      return await this.cache.peek<KeptResult>(skillResultCacheKey(task));
    } catch (error) {
      this.logger.warn({ err: error, task_id: task.id }, 'skill result cache unavailable; the task runs');
      return undefined;
    }
  }

  /** After a task an agent completed: keep its output for its TTL (in the background). */
  remember(task: Task): void {
    if (!this.settings.enabled || task.cache === undefined || task.cached === true || task.status !== 'completed') return;
    const kept: KeptResult = { output: task.output ?? null };
    if (JSON.stringify(kept).length > this.settings.maxEntryBytes) {
      this.tooLarge++;
      return;
    }
    this.cache.put(skillResultCacheKey(task), kept, task.cache.ttlSeconds * 1000).catch((error: unknown) => this.logger.warn({ err: error, task_id: task.id }, 'skill result not kept'));
  }
}
