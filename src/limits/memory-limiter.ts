import { fail } from '../protocol/errors';
import { Lease, Limiter, Rate, Verdict, allowed, gcra } from './limiter';

/** Tuning of the memory limiter. */
export interface MemoryLimiterOptions {
  /** The clock (ms); tests move it. Default Date.now. */
  now?: () => number;
  /** Most keys with a count kept; past it, the ones closest to rest are forgotten first. Default 100,000. */
  maxKeys?: number;
}

/**
 * The limiter of a single process: counts in a Map. Keys at rest (their tat passed) are
 * swept every minute and whenever the map passes `maxKeys`, so memory stays bounded under
 * a flood of distinct keys (a forgotten key counts as at rest, which it nearly is).
 */
export function createMemoryLimiter(options: MemoryLimiterOptions = {}): Limiter {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  /** `${key}\n${windowMs}` → theoretical arrival time (ms). */
  const tats = new Map<string, number>();
  /** key → places held. */
  const held = new Map<string, number>();
  let closed = false;

  const sweep = () => {
    const t = now();
    for (const [key, tat] of tats) if (tat <= t) tats.delete(key);
    if (tats.size > maxKeys) {
      // Still too many busy keys: forget the oldest inserted (Map order) down to 90%.
      let excess = tats.size - Math.floor(maxKeys * 0.9);
      for (const key of tats.keys()) {
        if (excess-- <= 0) break;
        tats.delete(key);
      }
    }
  };
  const timer = setInterval(sweep, 60_000);
  timer.unref();

  return {
    async take(key: string, rates: readonly Rate[], cost = 1): Promise<Verdict> {
      if (closed) throw fail.unavailable('limiter is closed');
      const t = now();
      const next: number[] = [];
      let wait = 0;
      for (const rate of rates) {
        const step = gcra(tats.get(`${key}\n${rate.windowMs}`) ?? 0, rate, cost, t);
        if (step.fits) next.push(step.tat);
        else wait = Math.max(wait, step.waitMs);
      }
      if (wait > 0) return { ok: false, retryAfterMs: Number.isFinite(wait) ? Math.max(1, Math.ceil(wait)) : Number.MAX_SAFE_INTEGER };
      rates.forEach((rate, i) => tats.set(`${key}\n${rate.windowMs}`, next[i]));
      if (tats.size > maxKeys) sweep();
      return allowed;
    },

    async acquire(key: string, max: number): Promise<Lease | undefined> {
      if (closed) throw fail.unavailable('limiter is closed');
      const count = held.get(key) ?? 0;
      if (count >= max) return undefined;
      held.set(key, count + 1);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          const left = (held.get(key) ?? 1) - 1;
          if (left <= 0) held.delete(key);
          else held.set(key, left);
        },
      };
    },

    health: () => Promise.resolve(closed ? { kind: 'memory', state: 'down' as const, detail: 'limiter is closed' } : { kind: 'memory', state: 'up' as const }),

    async close() {
      closed = true;
      clearInterval(timer);
      tats.clear();
      held.clear();
    },
  };
}
