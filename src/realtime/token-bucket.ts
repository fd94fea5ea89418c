/** The state of one token bucket, kept by its owner (a Connection holds its own fields). */
export interface Bucket {
  tokens: number;
  /** When tokens were last refilled (ms). */
  last: number;
}

/**
 * A token-bucket policy: `rate` tokens a second, holding at most `burst`. One policy
 * serves every bucket, and there are no timers: tokens are refilled from the clock
 * when taken, so an idle socket costs two numbers.
 */
export class TokenBucket {
  constructor(
    readonly rate: number,
    readonly burst: number,
  ) {}

  /** A full bucket at `now`. */
  fill(bucket: Bucket, now: number): void {
    bucket.tokens = this.burst;
    bucket.last = now;
  }

  /** Takes one token from `bucket`; false when it is empty. */
  take(bucket: Bucket, now: number): boolean {
    const elapsed = now - bucket.last;
    if (elapsed > 0) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsed * this.rate) / 1000);
      bucket.last = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
