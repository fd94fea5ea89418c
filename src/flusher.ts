/** Something with output queued during this event-loop turn. */
export interface Flushable {
  flush(): void;
}

/**
 * Coalesces writes: everything sent to a socket during one event-loop turn leaves in a
 * single write when the turn ends (setImmediate), so a batch of entries fanned out to
 * a thousand sockets costs a thousand writes, not a thousand per entry.
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

  /** Flushes `item` at the end of this turn; call once per turn per item. */
  add(item: Flushable): void {
    this.pending.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }
}
