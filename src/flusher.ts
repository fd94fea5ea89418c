/** Something with output queued, written out by flush(). */
export interface Flushable {
  flush(): void;
}

/**
 * Coalesces writes: everything sent to a socket while one callback and the promise
 * continuations it started run (a socket's frames, or a committed batch published to
 * its rooms and acked) leaves in a single write. The flush runs on process.nextTick,
 * which Node runs only after the microtask queue is empty, so the acks that follow a
 * commit join the pushes, and nothing waits for the next turn of the event loop: a
 * batch fanned out to a thousand sockets costs a thousand writes, not a thousand per
 * entry, and no extra poll phase of latency.
 */
export class Flusher {
  private pending: Flushable[] = [];
  private first: Flushable[] = [];
  private scheduled = false;
  private readonly run = () => {
    this.scheduled = false;
    const first = this.first;
    const due = this.pending;
    this.first = [];
    this.pending = [];
    // An item in both lists is flushed by the first call; the second finds nothing queued.
    for (const item of first) item.flush();
    for (const item of due) item.flush();
  };

  /** Flushes `item` once the current callback and its microtasks are done; call once per round per item. */
  add(item: Flushable): void {
    this.pending.push(item);
    this.schedule();
  }

  /**
   * Flushes `item` before the others this round: a sender's ack leaves ahead of a
   * thousand pushes, so the sender's next message is on its way while they are written.
   */
  addFirst(item: Flushable): void {
    this.first.push(item);
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.run);
    }
  }
}
