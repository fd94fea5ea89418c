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
  private scheduled = false;
  private readonly run = () => {
    this.scheduled = false;
    const due = this.pending;
    this.pending = [];
    for (const item of due) item.flush();
  };

  /** Flushes `item` once the current callback and its microtasks are done; call once per round per item. */
  add(item: Flushable): void {
    this.pending.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.run);
    }
  }
}
