import type { SharedCounters } from '../../application/ports.js';
import { redisUnavailable, type RedisConnection } from './redis-client.js';
import { windowAt, WINDOW_BUCKETS } from './sliding-window.js';

/**
 * KEYS: the window's buckets, oldest first, the current one last. ARGV: amount, bucket lifetime (ms).
 * Adds to the current bucket and sums the window in one atomic step.
 */
const ADD_AND_SUM = `
if tonumber(ARGV[1]) ~= 0 then
  redis.call('INCRBYFLOAT', KEYS[#KEYS], ARGV[1])
  redis.call('PEXPIRE', KEYS[#KEYS], ARGV[2])
end
local total = 0
for _, v in ipairs(redis.call('MGET', unpack(KEYS))) do
  if v then total = total + tonumber(v) end
end
return tostring(total)
`;

/** The script, as ioredis defines it on the connection (EVALSHA, loaded once). */
type WindowAdd = (numberOfKeys: number, ...keysThenArgs: Array<string | number>) => Promise<string>;

/** Sliding-window counters in Redis shared by every instance: one key per bucket, expiring with the window. */
export class RedisCounters implements SharedCounters {
  private readonly windowAdd: WindowAdd;

  constructor(private readonly connection: RedisConnection) {
    connection.redis.defineCommand('agentmeshWindowAdd', { lua: ADD_AND_SUM });
    const redis = connection.redis as unknown as { agentmeshWindowAdd: WindowAdd };
    this.windowAdd = redis.agentmeshWindowAdd.bind(redis);
  }

  add(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<number> {
    return this.run(tenantId, name, windowMs, amount, now);
  }

  total(tenantId: string, name: string, windowMs: number, now: number): Promise<number> {
    return this.run(tenantId, name, windowMs, 0, now);
  }

  private async run(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<number> {
    const { bucketMs, current } = windowAt(windowMs, now);
    const keys: string[] = [];
    for (let b = current - WINDOW_BUCKETS + 1; b <= current; b++) keys.push(this.connection.tenantKey(tenantId, 'count', name, windowMs, b));
    try {
      return Number(await this.windowAdd(keys.length, ...keys, amount, windowMs + bucketMs));
    } catch (error) {
      throw redisUnavailable(error);
    }
  }
}
