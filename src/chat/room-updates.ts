import { encodePush, RoomInfo } from '../protocol';

/**
 * Coalesces `roomUpdated` for lobbies: changed rooms are collected and sent together
 * at most once per interval, as one buffer of frames shared by every socket. A join
 * storm across many rooms then costs each socket one write per interval, and no room
 * is announced more than once per interval. The interval is one second, stretched by
 * `interval()` (one more second per SOCKETS_PER_SECOND connected sockets, at most
 * MAX_INTERVAL_MS): every update goes to every socket, so with many sockets a slower
 * lobby keeps the total bytes bounded.
 */
export const SOCKETS_PER_SECOND = 2000;
export const MAX_INTERVAL_MS = 10_000;

export class RoomUpdates {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;

  constructor(
    private readonly intervalMs: number,
    /** The room as it is now, or undefined once it is gone. */
    private readonly info: (id: string) => RoomInfo | undefined,
    /** Delivers the frames to every connected socket. */
    private readonly emit: (frames: Buffer) => void,
    /** How many sockets receive each batch (stretches the interval). */
    private readonly audience: () => number,
  ) {}

  /** The current interval: intervalMs, longer when many sockets are connected. */
  interval(): number {
    return Math.min(MAX_INTERVAL_MS, this.intervalMs * Math.max(1, Math.ceil(this.audience() / SOCKETS_PER_SECOND)));
  }

  /** Marks a room changed; it is announced at the next interval. */
  touch(roomId: string): void {
    this.dirty.add(roomId);
    if (this.timer) return;
    this.timer = setTimeout(() => this.send(), Math.max(0, this.lastSent + this.interval() - Date.now()));
  }

  private send(): void {
    this.timer = undefined;
    this.lastSent = Date.now();
    const frames: Buffer[] = [];
    for (const id of this.dirty) {
      const room = this.info(id);
      if (room) frames.push(encodePush('roomUpdated', room));
    }
    this.dirty.clear();
    if (frames.length > 0) this.emit(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  }

  /** Drops what is pending and stops the timer. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
  }
}
