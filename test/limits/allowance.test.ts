import { ALLOWANCE_CHUNK, Allowance } from '../../src/limits/allowance';
import { Limiter } from '../../src/limits/limiter';
import { createMemoryLimiter } from '../../src/limits/memory-limiter';

/** The memory limiter, counting the takes that reach it. */
function counted(): { limiter: Limiter; takes: () => number } {
  const limiter = createMemoryLimiter();
  let takes = 0;
  return {
    limiter: { ...limiter, take: (...args) => (takes++, limiter.take(...args)) },
    takes: () => takes,
  };
}

describe('Allowance: a rate on the hot path', () => {
  test('draws a chunk and spends it in the process: one take per chunk, admitted at once (no promise) until spent', async () => {
    const { limiter, takes } = counted();
    const allowance = new Allowance(limiter, 'msg:', [{ limit: 30, windowMs: 3000 }], 'at most 10 messages a second');
    await allowance.admit('u1', 1000);
    expect(takes()).toBe(1);
    for (let i = 1; i < ALLOWANCE_CHUNK; i++) expect(allowance.admit('u1', 1000)).toBeUndefined();
    expect(takes()).toBe(1);
    await allowance.admit('u1', 1000);
    expect(takes()).toBe(2);
    await limiter.close();
  });

  test('past the rate: rate_limited with retryAfterMs; further admits within the wait are refused without asking the limiter', async () => {
    const { limiter, takes } = counted();
    const allowance = new Allowance(limiter, 'msg:', [{ limit: 6, windowMs: 60_000 }], 'at most 6 a minute');
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      try {
        await allowance.admit('u1');
        admitted++;
      } catch (err) {
        expect(err).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
        break;
      }
    }
    // 4 drawn at once, then 1 and 1 when a chunk no longer fits: exactly the limit.
    expect(admitted).toBe(6);
    const asked = takes();
    for (let i = 0; i < 50; i++) await expect(allowance.admit('u1')).rejects.toMatchObject({ code: 'rate_limited' });
    expect(takes()).toBe(asked);
    // Someone else is not affected.
    await allowance.admit('u2');
    await limiter.close();
  });

  test('units unspent lapse after a second (they were counted: never more than the rate)', async () => {
    const { limiter, takes } = counted();
    const allowance = new Allowance(limiter, 'msg:', [{ limit: 100, windowMs: 10_000 }], 'x');
    await allowance.admit('u1', 1000);
    expect(allowance.admit('u1', 2500)).toBeInstanceOf(Promise);
    expect(takes()).toBe(2);
    await limiter.close();
  });
});
