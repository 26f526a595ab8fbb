import type { CountWindow, SharedCounters, WindowAddition } from '../../application/ports.js';
import type { RedisConnection } from './redis-client.js';
import { windowAt, WINDOW_BUCKETS } from './sliding-window.js';

/**
 * Adds to several windows and reads them back in one atomic step. ARGV[1]: how many windows; then
 * for each: its number of keys, the amount, the bucket lifetime (ms). KEYS: each window's buckets
 * in turn, oldest first, the current one last. Returns every bucket's count, window after window.
 */
const ADD_AND_SUM = `
local counts = {}
local first = 1
for w = 0, tonumber(ARGV[1]) - 1 do
  local size = tonumber(ARGV[2 + w * 3])
  local amount = ARGV[3 + w * 3]
  local last = first + size - 1
  if tonumber(amount) ~= 0 then
    redis.call('INCRBYFLOAT', KEYS[last], amount)
    redis.call('PEXPIRE', KEYS[last], ARGV[4 + w * 3])
  end
  for _, v in ipairs(redis.call('MGET', unpack(KEYS, first, last))) do
    counts[#counts + 1] = v and tostring(v) or '0'
  end
  first = last + 1
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
    return (await this.addInWindows(tenantId, [{ name, windowMs, amount }], now))[0]!;
  }

  async addInWindows(tenantId: string, additions: readonly WindowAddition[], now: number): Promise<CountWindow[]> {
    const keys: string[] = [];
    const args: number[] = [additions.length];
    const windows = additions.map(({ name, windowMs, amount }) => {
      const at = windowAt(windowMs, now);
      for (let b = at.current - WINDOW_BUCKETS + 1; b <= at.current; b++) keys.push(this.connection.tenantKey(tenantId, 'count', name, windowMs, b));
      args.push(WINDOW_BUCKETS, amount, windowMs + at.bucketMs);
      return at;
    });
    const counts = (await this.connection.call(() => this.windowAdd(keys.length, ...keys, ...args))).map(Number);
    return windows.map(({ bucketMs, current }, w) => {
      const buckets = counts.slice(w * WINDOW_BUCKETS, (w + 1) * WINDOW_BUCKETS);
      return { total: buckets.reduce((a, b) => a + b, 0), buckets, bucketMs, current };
    });
  }
}
