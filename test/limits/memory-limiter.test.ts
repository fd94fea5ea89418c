import { createMemoryLimiter } from '../../src/limits/memory-limiter';
import { limiterContract } from './limiter-contract';

// One process: "shared" limiters are one limiter seen twice (apps of one process share it).
limiterContract(
  'memory',
  async () => createMemoryLimiter(),
  async () => {
    const limiter = createMemoryLimiter();
    return [limiter, limiter];
  },
);

describe('memory limiter', () => {
  test('counts back at rest are forgotten: a flood of distinct keys stays bounded', async () => {
    let now = 1_000_000;
    const limiter = createMemoryLimiter({ now: () => now, maxKeys: 1000 });
    const rate = { limit: 1, windowMs: 1000 };
    for (let i = 0; i < 5000; i++) expect((await limiter.take(`k${i}`, [rate])).ok).toBe(true);
    // Past maxKeys the oldest counts were forgotten (they count as at rest again).
    expect((await limiter.take('k0', [rate])).ok).toBe(true);
    // The newest are still counted.
    expect((await limiter.take('k4999', [rate])).ok).toBe(false);
    now += 1001;
    expect((await limiter.take('k4999', [rate])).ok).toBe(true);
    await limiter.close();
  });
});
