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
  /** The frames last joined this round and the buffer made of them (see join). */
  private joinedParts: readonly Buffer[] | null = null;
  private joined: Buffer | null = null;
  private readonly run = () => {
    this.scheduled = false;
    const first = this.first;
    const due = this.pending;
    this.first = [];
    this.pending = [];
    // An item in both lists is flushed by the first call; the second finds nothing queued.
    for (const item of first) item.flush();
    for (const item of due) item.flush();
    this.joinedParts = null;
    this.joined = null;
  };

  /**
   * One buffer holding `frames` (`bytes` long in all), for a flush. The members of a
   * room are flushed one after another and were sent the same frames, so the buffer is
   * built once and written to each of them: a burst to a room of a thousand costs one
   * copy, not a thousand. Buffers returned are never written to afterwards.
   */
  join(frames: readonly Buffer[], bytes: number): Buffer {
    const last = this.joinedParts;
    if (last !== null && last.length === frames.length) {
      let same = true;
      for (let i = 0; i < frames.length && same; i++) same = frames[i] === last[i];
      if (same) return this.joined!;
    }
    this.joinedParts = frames;
    this.joined = Buffer.concat(frames, bytes);
    return this.joined;
  }

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
