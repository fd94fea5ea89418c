import { RoomInfo } from '../protocol';

/**
 * Coalesces `roomUpdated` for lobbies: the rooms this process changed are collected and
 * announced together at most once per interval, as one bus event that every process
 * encodes once for all its sockets. A join storm across many rooms then costs each
 * socket one write per interval, and no room is announced more than once per interval
 * by one process. The interval is one second, stretched by `interval()` (one more
 * second per SOCKETS_PER_SECOND sockets, at most MAX_INTERVAL_MS): every update goes to
 * every socket, so with many sockets a slower lobby keeps the total bytes bounded.
 *
 * Bounded per interval: a batch of more than MAX_BATCH_ROOMS rooms, or whose rooms' JSON
 * passes MAX_BATCH_BYTES, is not sent; `changed()` is called instead (one small
 * `roomsChanged` push: lobbies refetch `chatrooms`). So no single action (a rename of
 * the owner of thousands of rooms) fans out more than MAX_BATCH_BYTES to any socket or
 * over the bus, and such a batch does not even read its rooms.
 */
export const SOCKETS_PER_SECOND = 2000;
export const MAX_INTERVAL_MS = 10_000;
/** Most rooms announced one by one in an interval; past it, `roomsChanged`. */
export const MAX_BATCH_ROOMS = 200;
/** Most bytes of rooms announced one by one in an interval; past it, `roomsChanged`. */
export const MAX_BATCH_BYTES = 64 * 1024;

export class RoomUpdates {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private closed = false;

  constructor(
    private readonly intervalMs: number,
    /** The rooms as they are now (those gone are left out). */
    private readonly infos: (ids: string[]) => Promise<RoomInfo[]>,
    /** Announces the rooms to every lobby. */
    private readonly emit: (rooms: RoomInfo[]) => void,
    /** How many sockets receive each batch (stretches the interval). */
    private readonly audience: () => number,
    /** Called when reading the rooms failed (the batch is dropped; the next change announces them again). */
    private readonly onError: (err: unknown) => void,
    /** Tells every lobby that many rooms changed at once (past MAX_BATCH_ROOMS or MAX_BATCH_BYTES): refetch. */
    private readonly changed: () => void,
  ) {}

  /** The current interval: intervalMs, longer when many sockets are connected. */
  interval(): number {
    return Math.min(MAX_INTERVAL_MS, this.intervalMs * Math.max(1, Math.ceil(this.audience() / SOCKETS_PER_SECOND)));
  }

  /** Marks a room changed; it is announced at the next interval. */
  touch(roomId: string): void {
    if (this.closed) return;
    this.dirty.add(roomId);
    if (this.timer) return;
    this.timer = setTimeout(() => this.send(), Math.max(0, this.lastSent + this.interval() - Date.now()));
  }

  private send(): void {
    this.lastSent = Date.now();
    const ids = [...this.dirty];
    this.dirty.clear();
    if (ids.length > MAX_BATCH_ROOMS) {
      this.timer = undefined;
      this.changed();
      return;
    }
    this.infos(ids).then(
      (rooms) => {
        this.timer = undefined;
        if (this.closed) return;
        let bytes = 0;
        for (const room of rooms) bytes += Buffer.byteLength(JSON.stringify(room));
        if (bytes > MAX_BATCH_BYTES) this.changed();
        else if (rooms.length > 0) this.emit(rooms);
        if (this.dirty.size > 0) this.touchAgain();
      },
      (err) => {
        this.timer = undefined;
        this.onError(err);
        if (this.dirty.size > 0) this.touchAgain();
      },
    );
  }

  private touchAgain(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => this.send(), Math.max(0, this.lastSent + this.interval() - Date.now()));
  }

  /** Drops what is pending and stops the timer. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
  }
}
