import { createClient } from 'redis';
import { silentLogger } from '../../src/logger';
import { openRedisLimiter } from '../../src/limits/redis-limiter';
import { RedisServer, startRedis } from '../helpers/services';
import { limiterContract } from './limiter-contract';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let prefixes = 0;
const freshPrefix = () => `test:${process.pid}:${++prefixes}:`;

limiterContract(
  'redis',
  () => openRedisLimiter(redis.url, { logger: silentLogger, prefix: freshPrefix() }),
  async () => {
    const prefix = freshPrefix();
    return Promise.all([openRedisLimiter(redis.url, { logger: silentLogger, prefix }), openRedisLimiter(redis.url, { logger: silentLogger, prefix })]);
  },
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redis limiter', () => {
  test("a live process's leases are renewed past the ttl; a dead process's lapse (places it never gave back)", async () => {
    const prefix = freshPrefix();
    const one = await openRedisLimiter(redis.url, { logger: silentLogger, prefix, leaseTtlMs: 300 });
    const two = await openRedisLimiter(redis.url, { logger: silentLogger, prefix, leaseTtlMs: 300 });
    try {
      expect(await one.acquire('ip', 1)).toBeDefined();
      await sleep(1000);
      expect(await two.acquire('ip', 1)).toBeUndefined();
      // A process that died holding a place: its lease stays as it left it, due to lapse in 300 ms.
      const raw = createClient({ url: redis.url });
      raw.on('error', () => {});
      await raw.connect();
      const [secs] = (await raw.sendCommand(['TIME'])) as string[];
      await raw.sendCommand(['ZADD', `${prefix}l:dead`, String(Number(secs) * 1000 + 1300), 'gone.1']);
      await raw.close();
      expect(await two.acquire('dead', 1)).toBeUndefined();
      await sleep(1500);
      expect(await two.acquire('dead', 1)).toBeDefined();
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('a closing process gives its places back at once', async () => {
    const prefix = freshPrefix();
    const one = await openRedisLimiter(redis.url, { logger: silentLogger, prefix });
    const two = await openRedisLimiter(redis.url, { logger: silentLogger, prefix });
    expect(await one.acquire('ip', 2)).toBeDefined();
    expect(await one.acquire('ip', 2)).toBeDefined();
    expect(await two.acquire('ip', 2)).toBeUndefined();
    await one.close();
    expect(await two.acquire('ip', 2)).toBeDefined();
    await two.close();
  });

  test('Redis down: take and acquire reject with unavailable and health says down; back up, they work again', async () => {
    const own = await startRedis();
    try {
      const limiter = await openRedisLimiter(own.url, { logger: silentLogger, prefix: freshPrefix(), timeoutMs: 300 });
      expect((await limiter.take('k', [{ limit: 5, windowMs: 1000 }])).ok).toBe(true);
      await own.kill();
      await expect(limiter.take('k', [{ limit: 5, windowMs: 1000 }])).rejects.toMatchObject({ code: 'unavailable' });
      await expect(limiter.acquire('k', 5)).rejects.toMatchObject({ code: 'unavailable' });
      expect((await limiter.health()).state).toBe('down');
      await own.start();
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await limiter.take('k', [{ limit: 5, windowMs: 1000 }]).then(
          (v) => v.ok,
          () => false,
        );
        if (!ok) await sleep(100);
      }
      expect(ok).toBe(true);
      await limiter.close();
    } finally {
      await own.stop();
    }
  });
});
