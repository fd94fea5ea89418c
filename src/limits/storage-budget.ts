import type { Logger } from '../logger';

/** How often the storage figure is measured again, in ms. */
export const STORAGE_CHECK_MS = 5000;

export interface StorageBudgetOptions {
  /** The budget in bytes; 0 means none (never full, nothing measured). */
  maxBytes: number;
  /** Measures the bytes in use (the store's usage plus the GIF store's). */
  measure: () => Promise<number>;
  /** How often to measure again; default STORAGE_CHECK_MS. */
  everyMs?: number;
  logger: Logger;
}

/**
 * The total storage budget (STORAGE_MAX_BYTES): whether GIFs plus the database have reached it.
 *
 * Guarantees:
 * - `full()` is a cached boolean, never a query: it is asked on every message (the hot path).
 * - The figure is measured at `start()` and then every `everyMs` (one measurement at a time);
 *   so a refusal begins, and ends once room is made, within `everyMs`. Between measurements the
 *   store may grow past the budget by what is written meanwhile (bounded by the rate limits).
 * - A measurement that fails keeps the last figure and is logged once until one succeeds.
 * - With `maxBytes` 0 nothing is measured and `full()` is always false.
 * - `close()` stops the timer; safe twice.
 */
export class StorageBudget {
  private isFull = false;
  private used: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private measuring: Promise<void> | undefined;
  private failing = false;

  constructor(private readonly options: StorageBudgetOptions) {}

  /** True when the last measurement reached the budget. */
  full(): boolean {
    return this.isFull;
  }

  /** Bytes in use at the last measurement (undefined before one, or without a budget). */
  usedBytes(): number | undefined {
    return this.used;
  }

  /** Measures once, then every `everyMs`. Never rejects. */
  async start(): Promise<void> {
    if (this.options.maxBytes <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.check(), this.options.everyMs ?? STORAGE_CHECK_MS);
    this.timer.unref();
    await this.check();
  }

  /** Measures now (at most one measurement at a time). Never rejects. */
  check(): Promise<void> {
    if (this.options.maxBytes <= 0) return Promise.resolve();
    this.measuring ??= this.options
      .measure()
      .then(
        (used) => {
          this.used = used;
          const full = used >= this.options.maxBytes;
          if (full !== this.isFull) {
            const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
            if (full) this.options.logger.warn(`storage budget used up: ${mib(used)} of STORAGE_MAX_BYTES ${mib(this.options.maxBytes)}; new messages and uploads are refused`);
            else this.options.logger.info(`storage back under budget: ${mib(used)} of ${mib(this.options.maxBytes)}; new messages and uploads are accepted again`);
          }
          this.isFull = full;
          this.failing = false;
        },
        (err: unknown) => {
          if (!this.failing) this.options.logger.warn(`measuring storage use failed (the last figure stands): ${(err as Error)?.message ?? String(err)}`);
          this.failing = true;
        },
      )
      .finally(() => (this.measuring = undefined));
    return this.measuring;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
