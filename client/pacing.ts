/**
 * The client's own pace: the server refuses frames over a token bucket per socket
 * (`welcome.limits`: ratePerSec, rateBurst). The client keeps a bucket of its own that is a
 * little smaller and slower, and sends a frame only when that bucket has a token, so it never
 * trips the server's limit by itself, however fast the person types, pastes or sends: frames
 * wait their turn instead of being refused. Pure (no DOM, no timers): the socket asks and
 * waits. jest tests it (test/client/pacing.test.ts).
 */

/** Share of the server's sustained rate the client uses: network jitter can bunch frames up. */
export const RATE_SHARE = 0.8;

export class Pacer {
  readonly rate: number;
  readonly burst: number;
  private tokens: number;
  private last: number;

  /**
   * `ratePerSec` and `rateBurst` as the server announced them. The client's bucket holds a
   * quarter less (at least 2 fewer, and at least 1), and refills at RATE_SHARE of the rate;
   * the reserve absorbs frames that arrive bunched up.
   */
  constructor(ratePerSec: number, rateBurst: number, now: number) {
    this.rate = Math.max(0.5, ratePerSec * RATE_SHARE);
    this.burst = Math.max(1, Math.min(rateBurst - 2, Math.floor(rateBurst * 0.75)));
    this.tokens = this.burst;
    this.last = now;
  }

  private refill(now: number): void {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
      this.last = now;
    }
  }

  /** Milliseconds until a frame may go (0: now). */
  wait(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }

  /** Takes a token for a frame sent now; false (and nothing taken) when none is left. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
