import { randomUUID } from 'node:crypto';
import { kindPrefix } from '../../application/cache-keys.js';
import type { CacheKey, CacheKind } from '../../application/ports.js';
import type { RedisConnection } from './redis-client.js';

/** The epochs a read saw: a write made from what was loaded after it lands only if neither moved since. */
export interface WriteToken {
  keyEpoch: string;
  kindEpoch: string;
}

export interface SharedRead {
  /** `bytes`: the entry's JSON length. */
  hit?: { value: unknown; ttlMs: number; bytes: number };
  token: WriteToken;
}

/** The shared tier as the tiered cache uses it (Redis in production; a fake in unit tests). */
export interface SharedTier {
  read(key: CacheKey): Promise<SharedRead>;
  /** False when an invalidation of the key (or of its tenant's kind) came after `token` was read: nothing is written. */
  write(key: CacheKey, json: string, ttlMs: number, token: WriteToken): Promise<boolean>;
  delete(key: CacheKey, ttlMs: number): Promise<void>;
  deleteKind(tenantId: string, kind: CacheKind, ttlMs: number): Promise<void>;
  /** Claims the right to load `key` for `ttlMs`: a token, or undefined when another instance holds it. */
  lock(key: CacheKey, ttlMs: number): Promise<string | undefined>;
  /** Gives the claim back, if `token` still holds it. */
  unlock(key: CacheKey, token: string): Promise<void>;
}

/** KEYS: value, key epoch, kind epoch. The value with its remaining TTL, and both epochs, in one round trip. */
const READ = `
local v = redis.call('GET', KEYS[1])
local ttl = -2
if v then ttl = redis.call('PTTL', KEYS[1]) end
return { v or false, redis.call('GET', KEYS[2]) or '', redis.call('GET', KEYS[3]) or '', ttl }
`;

/** KEYS as READ; ARGV: payload, TTL (ms), key epoch and kind epoch seen. Writes only if neither epoch moved. */
const WRITE = `
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] or (redis.call('GET', KEYS[3]) or '') ~= ARGV[4] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/**
 * KEYS: value (or none), epoch; ARGV: the epoch's lifetime (ms). Deletes the value and moves the
 * epoch, so a load that read before this cannot write after it.
 */
const INVALIDATE = `
if KEYS[2] then redis.call('DEL', KEYS[2]) end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/** KEYS: lock; ARGV: token. Deletes the lock only if this token holds it (it may have expired and gone to another). */
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

type Script = (numberOfKeys: number, ...keysThenArgs: Array<string | number>) => Promise<unknown>;

/**
 * Redis as the shared tier. An entry is `{s: tenant, e: kind epoch, v: value}` under
 * `<prefix>:cache:{tenant}:kind:id`; the key's epoch (`…#e`) and the tenant kind's (`{tenant}:kind:#e`)
 * move on every invalidation, and last twice the kind's TTL so that no older entry outlives them.
 */
export class RedisCacheTier implements SharedTier {
  private readonly scripts: { read: Script; write: Script; invalidate: Script; unlock: Script };

  constructor(private readonly connection: RedisConnection) {
    const redis = connection.redis;
    redis.defineCommand('agentmeshCacheRead', { lua: READ });
    redis.defineCommand('agentmeshCacheWrite', { lua: WRITE });
    redis.defineCommand('agentmeshCacheInvalidate', { lua: INVALIDATE });
    redis.defineCommand('agentmeshCacheUnlock', { lua: UNLOCK });
    const defined = redis as unknown as { agentmeshCacheRead: Script; agentmeshCacheWrite: Script; agentmeshCacheInvalidate: Script; agentmeshCacheUnlock: Script };
    this.scripts = {
      read: defined.agentmeshCacheRead.bind(redis),
      write: defined.agentmeshCacheWrite.bind(redis),
      invalidate: defined.agentmeshCacheInvalidate.bind(redis),
      unlock: defined.agentmeshCacheUnlock.bind(redis),
    };
  }

  async read(key: CacheKey): Promise<SharedRead> {
    const [payload, keyEpoch, kindEpoch, ttl] = (await this.connection.call(() => this.scripts.read(3, ...this.keys(key)))) as [string | null, string, string, number];
    const token = { keyEpoch, kindEpoch };
    if (payload === null || ttl <= 0) return { token };
    const entry = JSON.parse(payload) as { s: string; e: string; v: unknown };
    // Another tenant's entry can never be under this key; an entry from before its kind was dropped is gone.
    if (entry.s !== key.tenantId || entry.e !== kindEpoch) return { token };
    return { hit: { value: entry.v, ttlMs: ttl, bytes: payload.length }, token };
  }

  async write(key: CacheKey, json: string, ttlMs: number, token: WriteToken): Promise<boolean> {
    const payload = `{"s":${JSON.stringify(key.tenantId)},"e":${JSON.stringify(token.kindEpoch)},"v":${json}}`;
    const written = await this.connection.call(() => this.scripts.write(3, ...this.keys(key), payload, ttlMs, token.keyEpoch, token.kindEpoch));
    return written === 1;
  }

  async delete(key: CacheKey, ttlMs: number): Promise<void> {
    const [value, keyEpoch] = this.keys(key);
    await this.connection.call(() => this.scripts.invalidate(2, keyEpoch, value, 2 * ttlMs));
  }

  async deleteKind(tenantId: string, kind: CacheKind, ttlMs: number): Promise<void> {
    const epoch = `${this.connection.keyPrefix}:cache:${kindPrefix(tenantId, kind)}#e`;
    await this.connection.call(() => this.scripts.invalidate(1, epoch, 2 * ttlMs));
  }

  async lock(key: CacheKey, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const set = await this.connection.call(() => this.connection.redis.set(this.lockKey(key), token, 'PX', ttlMs, 'NX'));
    return set === 'OK' ? token : undefined;
  }

  async unlock(key: CacheKey, token: string): Promise<void> {
    await this.connection.call(() => this.scripts.unlock(1, this.lockKey(key), token));
  }

  private lockKey(key: CacheKey): string {
    return `${this.connection.keyPrefix}:cache:${key.encoded}#l`;
  }

  private keys(key: CacheKey): [string, string, string] {
    const base = `${this.connection.keyPrefix}:cache:`;
    return [base + key.encoded, `${base}${key.encoded}#e`, `${base}${kindPrefix(key.tenantId, key.kind)}#e`];
  }
}
