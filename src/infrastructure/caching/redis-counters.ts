import type { CountWindow, SharedCounters } from '../../application/ports.js';
import type { RedisConnection } from './redis-client.js';
import { windowAt, WINDOW_BUCKETS } from './sliding-window.js';

/**
 * KEYS: the window's buckets, oldest first, the current one last. ARGV: amount, bucket lifetime (ms).
 * Adds to the current bucket and reads every bucket of the window in one atomic step.
 */
const ADD_AND_SUM = `
if tonumber(ARGV[1]) ~= 0 then
  redis.call('INCRBYFLOAT', KEYS[#KEYS], ARGV[1])
  redis.call('PEXPIRE', KEYS[#KEYS], ARGV[2])
end
local counts = {}
for i, v in ipairs(redis.call('MGET', unpack(KEYS))) do
  counts[i] = v and tostring(v) or '0'
end
return counts
`;

/** The script, as ioredis defines it on the connection (EVALSHA, loaded once). */
type WindowAdd = (numberOfKeys: number, ...keysThenArgs: Array<string | number>) => Promise<string[]>;

/** Sliding-window counters in Redis shared by every instance: one key per bucket, expiring with the window. */
export class RedisCounters implements SharedCounters {
  private readonly windowAdd: WindowAdd;

  constructor(private readonly connection: RedisConnection) {
    connection.redis.defineCommand('agentmeshWindowAdd', { lua: ADD_AND_SUM });
    const redis = connection.redis as unknown as { agentmeshWindowAdd: WindowAdd };
    this.windowAdd = redis.agentmeshWindowAdd.bind(redis);
  }

  async add(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<number> {
    return (await this.addInWindow(tenantId, name, windowMs, amount, now)).total;
  }

  async total(tenantId: string, name: string, windowMs: number, now: number): Promise<number> {
    return (await this.addInWindow(tenantId, name, windowMs, 0, now)).total;
  }

  async addInWindow(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<CountWindow> {
    const { bucketMs, current } = windowAt(windowMs, now);
    const keys: string[] = [];
    for (let b = current - WINDOW_BUCKETS + 1; b <= current; b++) keys.push(this.connection.tenantKey(tenantId, 'count', name, windowMs, b));
    const counts = await this.connection.call(() => this.windowAdd(keys.length, ...keys, amount, windowMs + bucketMs));
    const buckets = counts.map(Number);
    return { total: buckets.reduce((a, b) => a + b, 0), buckets, bucketMs, current };
  }
}
