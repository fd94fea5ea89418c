/** Something with output queued, written out by flush(). */
export interface Flushable {
  flush(): void;
}

/** How long presence (`joined`/`left` entries) may wait to share a write with what follows. */
export const PRESENCE_FLUSH_MS = 500;

/**
 * Coalesces writes: everything sent to a socket while one callback and the promise
 * continuations it started run (a socket's frames, or a committed batch published to
 * its rooms and acked) leaves in a single write. The flush runs on process.nextTick,
 * which Node runs only after the microtask queue is empty, so the acks that follow a
 * commit join the pushes, and nothing waits for the next turn of the event loop: a
 * batch fanned out to a thousand sockets costs a thousand writes, not a thousand per
 * entry, and no extra poll phase of latency.
 *
 * Lazy output (presence) waits up to `lazyMs` instead, so the joins of a filling room
 * reach each member in one write per interval rather than one per join; any urgent
 * output to the same socket takes it along earlier, in order.
 */
export class Flusher {
  private pending: Flushable[] = [];
  private scheduled = false;
  private lazy: Flushable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly run = () => {
    this.scheduled = false;
    const due = this.pending;
    this.pending = [];
    for (const item of due) item.flush();
  };
  private readonly runLazy = () => {
    this.timer = undefined;
    const due = this.lazy;
    this.lazy = [];
    for (const item of due) item.flush();
  };

  constructor(private readonly lazyMs = PRESENCE_FLUSH_MS) {}

  /** Flushes `item` once the current callback and its microtasks are done; call once per round per item. */
  add(item: Flushable): void {
    this.pending.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.run);
    }
  }

  /** Flushes `item` within `lazyMs` (sooner if it is also added urgently). */
  addLazy(item: Flushable): void {
    this.lazy.push(item);
    this.timer ??= setTimeout(this.runLazy, this.lazyMs);
  }

  /** Writes what waits now and stops the timer. */
  close(): void {
    clearTimeout(this.timer);
    this.runLazy();
  }
}
