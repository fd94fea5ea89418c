import { fail } from '../protocol/errors';
import { Limiter, Rate } from './limiter';

/** Units drawn from the limiter at once; the rest are spent locally. */
export const ALLOWANCE_CHUNK = 4;
/** How long units drawn but not spent stay usable, in ms. */
const ALLOWANCE_TTL_MS = 1000;
/** Most keys with local units kept; past it, the table is emptied (unspent units are lost, never gained). */
const MAX_KEYS = 50_000;

/**
 * A rate checked on a hot path (a user's messages across all their sockets and processes):
 * units are drawn from the limiter `ALLOWANCE_CHUNK` at a time (one at a time when a chunk no
 * longer fits) and spent locally, so the limiter is asked once per few units.
 *
 * Guarantees: never more than the rates allow plus, per process, the unspent part of one
 * chunk; units left unspent lapse after a second (the limiter counted them: a slow sender
 * pays a little of their burst for the batching). A refusal is remembered in the process until
 * the wait it gave (at most a second), so a flood past the rate costs the limiter nothing. `admit` answers synchronously (undefined)
 * when local units remain, so an admitted unit costs no promise; otherwise it returns a
 * promise that rejects with `rate_limited` (retryAfterMs) past the rate, or `unavailable`
 * when the limiter is down.
 */
export class Allowance {
  /** Units drawn and not spent (`left`), or a refusal remembered (`blocked`), each until `until`. */
  private readonly local = new Map<string, { left: number; until: number; blocked: boolean }>();

  constructor(
    private readonly limiter: Limiter,
    /** Key prefix in the limiter, e.g. `msg:`. */
    private readonly prefix: string,
    private readonly rates: readonly Rate[],
    /** What a refused client is told, e.g. "at most 10 messages a second". */
    private readonly describe: string,
  ) {}

  /** Spends one unit for `key`: undefined when spent locally, else the promise of the limiter's answer. */
  admit(key: string, now = Date.now()): Promise<void> | undefined {
    const held = this.local.get(key);
    if (held !== undefined && held.until > now) {
      if (held.left > 0) {
        held.left--;
        return undefined;
      }
      // Refused a moment ago: refused again without asking the limiter (a flood costs it nothing).
      if (held.blocked) return Promise.reject(this.refusal(held.until - now));
    }
    return this.draw(key, now);
  }

  private async draw(key: string, now: number): Promise<void> {
    const limitedKey = this.prefix + key;
    let got = ALLOWANCE_CHUNK;
    let verdict = await this.limiter.take(limitedKey, this.rates, got);
    if (!verdict.ok) {
      got = 1;
      verdict = await this.limiter.take(limitedKey, this.rates, 1);
    }
    if (this.local.size >= MAX_KEYS) this.local.clear();
    if (!verdict.ok) {
      this.local.set(key, { left: 0, until: now + Math.min(verdict.retryAfterMs, ALLOWANCE_TTL_MS), blocked: true });
      throw this.refusal(verdict.retryAfterMs);
    }
    if (got > 1) this.local.set(key, { left: got - 1, until: now + ALLOWANCE_TTL_MS, blocked: false });
    else this.local.delete(key);
  }

  private refusal(retryAfterMs: number) {
    return fail.rateLimited(`slow down: ${this.describe}`, retryAfterMs);
  }

  /** Forgets local units that lapsed (call now and then). */
  sweep(now = Date.now()): void {
    for (const [key, held] of this.local) if (held.until <= now || held.left === 0) this.local.delete(key);
  }
}
