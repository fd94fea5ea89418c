import type { DependencyHealth } from '../health';

/** At most `limit` units per `windowMs`, all of them at once if unused (a burst of `limit`). */
export interface Rate {
  limit: number;
  windowMs: number;
}

/** What `take` decided. */
export interface Verdict {
  ok: boolean;
  /** When refused: how long until the same `take` would pass, in ms (at least 1). 0 when ok. */
  retryAfterMs: number;
}

/** A place held by `acquire`; `release()` gives it back (safe to call twice). */
export interface Lease {
  release(): void;
}

/**
 * Counts what clients do, for the abuse limits: rates (attempts, creations, bytes a day) and
 * places held at once (uploads in flight, sockets). One limiter serves a whole deployment:
 * the memory one a single process, the Redis one every process sharing that Redis, so a
 * limit holds whichever process a client reaches.
 *
 * Guarantees (the contract suite in test/limits/limiter-contract.ts checks each):
 * - `take(key, rates, cost)` is atomic and all-or-nothing: it counts `cost` against every
 *   rate of `key` only when each of them has room for it; otherwise it counts nothing and
 *   says how long to wait for all of them to have room. Each rate is a generic cell rate
 *   (GCRA): `limit` at once from rest, then one every `windowMs / limit`. A cost above a
 *   rate's `limit` is never allowed. Keys are independent; one key's rates are told apart
 *   by their window, so pass the same list every time.
 * - `acquire(key, max)` holds one of `max` places of `key` until `release()` or until the
 *   process holding it dies (the Redis limiter renews its leases; a dead process's lapse
 *   within LEASE_TTL_MS). Resolves undefined when all places are held.
 * - Both may reject with ChatError `unavailable` when the backend is down (nothing was
 *   counted). Callers refuse the action then: a limit that cannot be checked is not waived.
 * - Memory is bounded: counts that have run back to rest are forgotten.
 * - `close()` releases every lease this limiter holds and stops its timers; safe twice.
 */
export interface Limiter {
  take(key: string, rates: readonly Rate[], cost?: number): Promise<Verdict>;
  acquire(key: string, max: number): Promise<Lease | undefined>;
  /** Whether the limiter works (within a bound). Never rejects. */
  health(): Promise<DependencyHealth>;
  close(): Promise<void>;
}

/** How long a lease of a process that stopped renewing it still counts (Redis limiter), in ms. */
export const LEASE_TTL_MS = 30_000;

/** The verdict that lets an action through. */
export const allowed: Verdict = Object.freeze({ ok: true, retryAfterMs: 0 });

/**
 * One GCRA step for one rate: given the stored theoretical arrival time `tat` (ms; 0 for
 * none), decides whether `cost` fits at `now`. Returns the new tat when it fits, or the wait.
 * Shared by the memory limiter; the Redis limiter's Lua script is the same arithmetic.
 */
export function gcra(tat: number, rate: Rate, cost: number, now: number): { fits: true; tat: number } | { fits: false; waitMs: number } {
  const interval = rate.windowMs / rate.limit;
  if (cost > rate.limit) return { fits: false, waitMs: Number.POSITIVE_INFINITY };
  const next = Math.max(tat, now) + cost * interval;
  const allowAt = next - rate.windowMs;
  if (allowAt > now) return { fits: false, waitMs: allowAt - now };
  return { fits: true, tat: next };
}
