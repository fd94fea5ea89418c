import { createHash, randomBytes } from 'node:crypto';
import { closeRedis, connectRedis } from '../bus/redis-bus';
import { checkHealth } from '../health';
import { Logger } from '../logger';
import { ChatError, fail } from '../protocol/errors';
import { LEASE_TTL_MS, Lease, Limiter, Rate, Verdict, allowed } from './limiter';

/** Tuning of the Redis limiter. */
export interface RedisLimiterOptions {
  logger: Logger;
  /** Prefix of every key. Default `gifchat:limits:`. */
  prefix?: string;
  /** How long a call may wait for Redis before it fails with `unavailable`, in ms. Default 1000. */
  timeoutMs?: number;
  /** How long a lease counts without renewal, in ms. Default LEASE_TTL_MS. */
  leaseTtlMs?: number;
}

/*
 * Keys (P = the prefix):
 *   P r:<window>:<key>   STRING  the rate's theoretical arrival time (ms, Redis's clock), expiring with it
 *   P l:<key>            ZSET    lease id → when it lapses (ms); expires with its last lease
 * Times come from Redis (TIME), one clock for every process.
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const SCRIPTS = {
  /** ARGV: prefix, key, cost, then limit and window per rate. Returns "0" when counted, else the wait in ms ("-1": never). */
  take: `${NOW}
local P, key, cost = ARGV[1], ARGV[2], tonumber(ARGV[3])
local wait = 0
local keys, tats = {}, {}
for i = 4, #ARGV, 2 do
  local limit, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local k = P .. 'r:' .. ARGV[i + 1] .. ':' .. key
  if cost > limit then return '-1' end
  local tat = tonumber(redis.call('GET', k) or '0')
  local nxt = math.max(tat, now) + cost * window / limit
  local allow_at = nxt - window
  if allow_at > now then
    if allow_at - now > wait then wait = allow_at - now end
  else
    keys[#keys + 1] = k
    tats[#tats + 1] = nxt
  end
end
if wait > 0 then return tostring(math.ceil(wait)) end
for i = 1, #keys do
  redis.call('SET', keys[i], string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now) + 1)
end
return '0'`,
  /** ARGV: prefix, key, max, lease id, ttl. Returns 1 when held. */
  acquire: `${NOW}
local k = ARGV[1] .. 'l:' .. ARGV[2]
local ttl = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
if redis.call('ZCARD', k) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', k, now + ttl, ARGV[4])
redis.call('PEXPIRE', k, ttl)
return 1`,
  /** ARGV: prefix, ttl, then key and lease id per lease. Keeps each lease (re-adding one Redis lost). */
  renew: `${NOW}
local ttl = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local k = ARGV[1] .. 'l:' .. ARGV[i]
  redis.call('ZADD', k, now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', k, ttl)
end
return 1`,
} as const;

type ScriptName = keyof typeof SCRIPTS;
const COMPILED = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, text]) => [name, { text, sha: createHash('sha1').update(text).digest('hex') }]),
) as Record<ScriptName, { text: string; sha: string }>;

/** Most leases one renew script carries (the rest go in further calls). */
const RENEW_BATCH = 500;

/**
 * The limiter in Redis, shared by every process of a deployment. Each `take` and `acquire`
 * is one Lua script (atomic), timed by Redis's clock. Beyond the Limiter contract:
 * - Leases live in a sorted set per key, scored by when they lapse; this limiter renews
 *   its own every `leaseTtlMs / 3` in batches, so a process that dies frees its places
 *   within `leaseTtlMs`. A lease Redis lost (a restart) is put back by the next renewal.
 * - `release()` never waits: its ZREM is sent in the background, and a failed one is left
 *   to lapse.
 * - Redis down or slow: `take` and `acquire` reject with ChatError `unavailable` after at
 *   most `timeoutMs`; a call that timed out may still have been counted.
 */
export async function openRedisLimiter(url: string, options: RedisLimiterOptions): Promise<Limiter> {
  const { logger } = options;
  const prefix = options.prefix ?? 'gifchat:limits:';
  const timeoutMs = options.timeoutMs ?? 1000;
  const leaseTtlMs = options.leaseTtlMs ?? LEASE_TTL_MS;
  const client = await connectRedis(url, 'limits', logger, {
    timeoutMs,
    extra: { disableOfflineQueue: true, commandOptions: { timeout: timeoutMs } },
  });
  let closed = false;
  const unavailable = (err: unknown) =>
    err instanceof ChatError ? err : fail.unavailable(`limits are unavailable: ${err instanceof Error ? err.message || err.name : String(err)}`);

  async function run<T>(name: ScriptName, args: string[]): Promise<T> {
    const { sha, text } = COMPILED[name];
    try {
      try {
        return (await client.sendCommand(['EVALSHA', sha, '0', prefix, ...args])) as T;
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return (await client.sendCommand(['EVAL', text, '0', prefix, ...args])) as T;
      }
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Leases held by this process: id → key. */
  const leases = new Map<string, string>();
  const leasePrefix = randomBytes(6).toString('base64url');
  let leaseCount = 0;
  let renewing = false;
  const renew = async () => {
    if (renewing || closed || leases.size === 0) return;
    renewing = true;
    try {
      let args: string[] = [];
      for (const [id, key] of leases) {
        args.push(key, id);
        if (args.length >= RENEW_BATCH * 2) {
          await run('renew', [String(leaseTtlMs), ...args]);
          args = [];
        }
      }
      if (args.length > 0) await run('renew', [String(leaseTtlMs), ...args]);
    } catch (err) {
      logger.warn(`limits: renewing ${leases.size} leases failed: ${(err as Error).message}`);
    } finally {
      renewing = false;
    }
  };
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(leaseTtlMs / 3)));
  timer.unref();

  const closedError = () => fail.unavailable('limits are closed');
  const drop = (key: string, id: string) => {
    if (closed) return;
    client.sendCommand(['ZREM', `${prefix}l:${key}`, id]).catch(() => {
      // Redis is away: the lease lapses by itself within the ttl.
    });
  };

  return {
    async take(key: string, rates: readonly Rate[], cost = 1): Promise<Verdict> {
      if (closed) throw closedError();
      if (rates.length === 0) return allowed;
      const args = [key, String(cost)];
      for (const rate of rates) args.push(String(rate.limit), String(rate.windowMs));
      const wait = Number(await run<string>('take', args));
      if (wait === 0) return allowed;
      return { ok: false, retryAfterMs: wait < 0 ? Number.MAX_SAFE_INTEGER : Math.max(1, wait) };
    },

    async acquire(key: string, max: number): Promise<Lease | undefined> {
      if (closed) throw closedError();
      const id = `${leasePrefix}.${++leaseCount}`;
      const got = await run<number>('acquire', [key, String(max), id, String(leaseTtlMs)]);
      if (got !== 1) return undefined;
      leases.set(id, key);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          leases.delete(id);
          drop(key, id);
        },
      };
    },

    health: () =>
      closed
        ? Promise.resolve({ kind: 'redis', state: 'down' as const, detail: 'limits are closed' })
        : checkHealth('redis', async () => {
            try {
              await client.sendCommand(['PING']);
            } catch (err) {
              throw unavailable(err);
            }
          }),

    async close() {
      if (closed) return;
      clearInterval(timer);
      // Give back this process's places now rather than after the ttl.
      const byKey = new Map<string, string[]>();
      for (const [id, key] of leases) byKey.set(key, [...(byKey.get(key) ?? []), id]);
      leases.clear();
      await Promise.all([...byKey].map(([key, ids]) => client.sendCommand(['ZREM', `${prefix}l:${key}`, ...ids]).catch(() => {})));
      closed = true;
      await closeRedis(client);
    },
  };
}
