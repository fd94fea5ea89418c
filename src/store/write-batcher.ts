import { Logger } from '../logger';
import { Store, WriteOp } from './store';

interface Pending {
  op: WriteOp;
  onCommit?: () => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Groups writes into one transaction per event-loop turn. Batches commit one at a
 * time and in order; after a batch commits, each write's `onCommit` runs
 * synchronously in write order (that is where entries are published, so pushes
 * follow seq order), then its promise resolves (that is where acks go out).
 */
export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  /** Queues one op; resolves after the transaction holding it committed. */
  write(op: WriteOp, onCommit?: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ op, onCommit, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves when everything queued so far has been committed (or failed). */
  async drain(): Promise<void> {
    do {
      if (this.queue.length > 0) this.flush();
      await this.running;
    } while (this.queue.length > 0);
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.running = this.running.then(async () => {
      try {
        await this.store.commit(batch.map((p) => p.op));
      } catch (err) {
        for (const p of batch) p.reject(err);
        return;
      }
      for (const p of batch) {
        try {
          p.onCommit?.();
        } catch (err) {
          this.logger.error('after-commit step failed', err);
        }
      }
      for (const p of batch) p.resolve();
    });
  }
}
