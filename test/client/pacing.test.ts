import { Pacer, RATE_SHARE } from '../../client/pacing';
import { type Bucket, TokenBucket } from '../../src/realtime/token-bucket';

/**
 * A client that sends `frames` as fast as its pacer lets it (each frame at the first moment
 * `wait` allows), and the server's own bucket taking them as they arrive after a random
 * network delay (in order, as over TCP). Returns how many the server refused and when the
 * last one went.
 */
function simulate(ratePerSec: number, rateBurst: number, frames: number, jitterMs: number, seed = 1): { refused: number; lastSentAt: number } {
  let random = seed;
  const rand = () => ((random = (random * 16807) % 2147483647) - 1) / 2147483646;
  const start = 1_000_000;
  const pacer = new Pacer(ratePerSec, rateBurst, start);
  const server = new TokenBucket(ratePerSec, rateBurst);
  const bucket: Bucket = { tokens: 0, last: 0 };
  server.fill(bucket, start);
  let now = start;
  let arrival = start;
  let refused = 0;
  for (let i = 0; i < frames; i++) {
    now += pacer.wait(now);
    expect(pacer.take(now)).toBe(true);
    arrival = Math.max(arrival, now + rand() * jitterMs);
    if (!server.take(bucket, arrival)) refused++;
  }
  return { refused, lastSentAt: now - start };
}

describe('Pacer', () => {
  test('a burst goes at once, then frames wait their turn', () => {
    const pacer = new Pacer(20, 40, 0);
    expect(pacer.burst).toBe(30);
    expect(pacer.rate).toBe(20 * RATE_SHARE);
    for (let i = 0; i < 30; i++) expect(pacer.take(0)).toBe(true);
    expect(pacer.wait(0)).toBeGreaterThan(0);
    expect(pacer.take(0)).toBe(false);
    const wait = pacer.wait(0);
    expect(wait).toBe(Math.ceil(1000 / (20 * RATE_SHARE)));
    expect(pacer.wait(wait)).toBe(0);
    expect(pacer.take(wait)).toBe(true);
  });

  test('tiny limits still let one frame through at a time', () => {
    const pacer = new Pacer(1, 1, 0);
    expect(pacer.burst).toBe(1);
    expect(pacer.take(0)).toBe(true);
    expect(pacer.take(0)).toBe(false);
    expect(pacer.wait(0)).toBe(Math.ceil(1000 / RATE_SHARE));
  });

  // Jitter bunches frames up; the client's reserve (burst minus its own) absorbs a bunch as
  // long as the delays stay within what the reserve covers at that rate.
  test.each([
    [20, 40, [0, 30, 250]],
    [5, 5, [0, 30, 250]],
    [2, 3, [0, 30, 250]],
    [1, 1, [0, 30, 250]],
    [100, 10, [0, 30]],
  ])('sending as fast as it allows never trips a server bucket of %d/s, burst %d (with network jitter)', (rate, burst, jitters) => {
    for (const jitter of jitters) {
      for (const seed of [1, 7, 42]) expect(simulate(rate, burst, 300, jitter, seed).refused).toBe(0);
    }
  });

  test('and it does not crawl: 300 frames at 20/s go within about 300 / (0.8 × 20) seconds', () => {
    const { lastSentAt } = simulate(20, 40, 300, 0);
    expect(lastSentAt).toBeLessThanOrEqual(((300 - 30) / (20 * RATE_SHARE)) * 1000 + 300);
  });
});
