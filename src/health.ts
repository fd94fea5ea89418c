import { ChatError } from './protocol/errors';

/**
 * How one dependency of the server is doing, as /healthz shows it. Every seam's
 * implementation answers for itself (store, bus, presence).
 * - `up`: working.
 * - `degraded`: partly working (e.g. reads work, writes fail: the disk is full).
 * - `down`: not working; requests that need it fail with `unavailable`.
 */
export interface DependencyHealth {
  /** What it is: sqlite, postgres, memory, redis. */
  kind: string;
  state: 'up' | 'degraded' | 'down';
  /** Why it is not up, in a sentence anyone may read; or what is worth knowing when it is. */
  detail?: string;
  /** How long the check took (a round trip to the dependency), in ms. */
  latencyMs?: number;
}

/** How long a health check may take before its dependency counts as down. */
export const HEALTH_CHECK_MS = 1500;

/**
 * Runs `check` (which rejects when the dependency does not work) within `ms`: up with its
 * latency, or down with the reason it gave (a ChatError's message is for anyone to read;
 * any other error's is not shown).
 */
export async function checkHealth(kind: string, check: () => Promise<void>, ms = HEALTH_CHECK_MS): Promise<DependencyHealth> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([check(), timeout]);
    return { kind, state: 'up', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const readable = err instanceof ChatError || /^no answer within/.test(message);
    return { kind, state: 'down', detail: readable ? message : 'the check failed' };
  } finally {
    clearTimeout(timer);
  }
}
