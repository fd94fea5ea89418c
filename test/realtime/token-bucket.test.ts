import { Bucket, TokenBucket } from '../../src/realtime/token-bucket';

describe('token bucket', () => {
  test('allows the burst, then the sustained rate', () => {
    const policy = new TokenBucket(10, 5);
    const bucket: Bucket = { tokens: 0, last: 0 };
    policy.fill(bucket, 0);
    expect(Array.from({ length: 6 }, () => policy.take(bucket, 0))).toEqual([true, true, true, true, true, false]);
    expect(policy.take(bucket, 50)).toBe(false); // half a token
    expect(policy.take(bucket, 100)).toBe(true);
    expect(policy.take(bucket, 10_000)).toBe(true); // refills up to the burst only
    expect(Array.from({ length: 5 }, () => policy.take(bucket, 10_000)).filter(Boolean)).toHaveLength(4);
  });

  test('buckets sharing one policy are independent', () => {
    const policy = new TokenBucket(1, 1);
    const a: Bucket = { tokens: 0, last: 0 };
    const b: Bucket = { tokens: 0, last: 0 };
    policy.fill(a, 0);
    policy.fill(b, 0);
    expect(policy.take(a, 0)).toBe(true);
    expect(policy.take(a, 0)).toBe(false);
    expect(policy.take(b, 0)).toBe(true);
  });
});
