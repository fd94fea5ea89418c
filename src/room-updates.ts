import { encodePush, RoomInfo } from './protocol';

/**
 * Coalesces `roomUpdated` for lobbies: changed rooms are collected and sent together
 * at most once per interval, as one buffer of frames shared by every socket. A join
 * storm across many rooms then costs each socket one write per interval, and no room
 * is announced more than once per interval.
 */
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
  ) {}

  /** Marks a room changed; it is announced at the next interval. */
  touch(roomId: string): void {
    this.dirty.add(roomId);
    if (this.timer) return;
    this.timer = setTimeout(() => this.send(), Math.max(0, this.lastSent + this.intervalMs - Date.now()));
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
