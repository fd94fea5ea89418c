import { Logger } from '../logger';
import { ChatError } from '../protocol/errors';
import { AppendOp, AppendResult, Store } from './store';

interface Pending {
  op: AppendOp;
  onCommit: ((result: AppendResult) => void) | undefined;
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

/**
 * When a batch fails and its ops are retried one by one, a retry that took this long to
 * fail as `unavailable` means the storage itself is stuck (each try waits out the store's
 * busy timeout): the rest of the batch is then failed with that error without a try of
 * its own, so a locked database holds the queue for two timeouts, not one per op.
 */
const SLOW_FAILURE_MS = 250;

/** At most this many ops share one transaction (a bound on its size and on how long it holds room locks). */
export const MAX_BATCH_OPS = 2000;

/**
 * Groups appends into one `store.append` (one transaction). Batches commit one at a time
 * and in order: the appends of one event-loop turn form a batch, and while a batch is
 * committing, everything queued meanwhile waits and becomes the next batch (group commit:
 * with a storage whose commit takes milliseconds, as PostgreSQL's flush to disk does, a batch
 * grows with the load instead of each turn paying for a commit of its own). After a batch commits, each op's `onCommit` runs
 * synchronously in queue order (that is where entries are published, so publishes follow
 * seq order), then the promises resolve (that is where acks go out).
 *
 * Isolation: when a batch fails, its ops are retried one at a time, in order, so one bad op
 * (or one op of a room whose write fails) does not fail the unrelated ops it was batched
 * with: each op commits and resolves, or rejects with its own error.
 */
export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private committing = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  /**
   * Queues one append; resolves with its result once the transaction holding it committed
   * (or rejects with the store's error). `onCommit` runs synchronously right after the
   * commit, in queue order, before any promise of the batch resolves; it gets every result,
   * duplicates and refusals included.
   */
  append(op: AppendOp, onCommit?: (result: AppendResult) => void): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ op, onCommit, resolve, reject });
      // While a batch commits, the queue waits for it (the commit's end flushes it).
      if (!this.scheduled && !this.committing) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves when everything queued so far has been committed or has failed. Never rejects. */
  async drain(): Promise<void> {
    do {
      if (this.queue.length > 0) this.flush();
      await this.running;
    } while (this.queue.length > 0 || this.committing);
  }

  private flush(): void {
    this.scheduled = false;
    if (this.committing || this.queue.length === 0) return;
    const batch = this.queue.length <= MAX_BATCH_OPS ? this.queue : this.queue.slice(0, MAX_BATCH_OPS);
    this.queue = batch === this.queue ? [] : this.queue.slice(MAX_BATCH_OPS);
    this.committing = true;
    // commit() settles every op of the batch and never rejects.
    this.running = this.commit(batch).then(() => {
      this.committing = false;
      // What queued during the commit goes next, at once.
      if (this.queue.length > 0) this.flush();
    });
  }

  private async commit(batch: Pending[]): Promise<void> {
    const ops: AppendOp[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) ops[i] = batch[i].op;
    let results: AppendResult[];
    try {
      results = await this.store.append(ops);
    } catch (err) {
      if (batch.length === 1) batch[0].reject(err);
      else await this.isolate(batch);
      return;
    }
    this.settle(batch, results);
  }

  /** Retries a failed batch's ops one by one, in order. */
  private async isolate(batch: Pending[]): Promise<void> {
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i];
      const started = Date.now();
      let results: AppendResult[];
      try {
        results = await this.store.append([p.op]);
      } catch (err) {
        p.reject(err);
        if (err instanceof ChatError && err.code === 'unavailable' && Date.now() - started >= SLOW_FAILURE_MS) {
          // The storage keeps failing: nothing of the rest was written, and it is told so now.
          for (let j = i + 1; j < batch.length; j++) batch[j].reject(err);
          return;
        }
        continue;
      }
      this.settle([p], results);
    }
  }

  /** After a commit: every onCommit in order, then every promise. */
  private settle(batch: Pending[], results: AppendResult[]): void {
    if (results.length !== batch.length) {
      const err = new Error(`store: append returned ${results.length} results for ${batch.length} ops`);
      for (const p of batch) p.reject(err);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const onCommit = batch[i].onCommit;
      if (onCommit === undefined) continue;
      try {
        onCommit(results[i]);
      } catch (err) {
        try {
          this.logger.error('after-commit step failed', err);
        } catch {
          // A failing logger must not stop the others' steps either.
        }
      }
    }
    for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i]);
  }
}
