import { TokenBucket } from '../src/token-bucket';

describe('token bucket', () => {
  test('allows the burst, then the sustained rate', () => {
    const bucket = new TokenBucket(10, 5, 0);
    expect(Array.from({ length: 6 }, () => bucket.take(0))).toEqual([true, true, true, true, true, false]);
    expect(bucket.take(50)).toBe(false); // half a token
    expect(bucket.take(100)).toBe(true);
    expect(bucket.take(10_000)).toBe(true); // refills up to the burst only
    expect(Array.from({ length: 5 }, () => bucket.take(10_000)).filter(Boolean)).toHaveLength(4);
  });
});
