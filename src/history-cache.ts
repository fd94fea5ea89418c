import { Entry } from './protocol';
import { Store } from './store/store';

/** Entries kept in memory per room: the tail every join and most `history` pages read. */
export const CACHE_PER_ROOM = 100;

interface RoomTail {
  /** Committed entries, oldest first, with no gap after `floor`. */
  entries: Entry[];
  /** Every committed entry with seq > floor is in `entries`. */
  floor: number;
  /** While the tail is being read from the store: entries committed meanwhile. */
  loading?: Promise<void>;
  late?: Entry[];
}

/**
 * Reads of room history, served from a per-room tail of committed entries when it
 * covers the request and from the store otherwise. Entries enter the tail as they
 * commit (add), in seq order, so the tail never holds an entry the store lacks.
 */
export class HistoryCache {
  private readonly rooms = new Map<string, RoomTail>();

  constructor(
    private readonly store: Store,
    private readonly capacity = CACHE_PER_ROOM,
  ) {}

  /** Records a committed entry (call in commit order). */
  add(entry: Entry): void {
    const tail = this.rooms.get(entry.room);
    if (!tail) return;
    if (tail.late) {
      tail.late.push(entry);
      return;
    }
    tail.entries.push(entry);
    if (tail.entries.length > this.capacity) {
      const dropped = tail.entries.splice(0, tail.entries.length - this.capacity);
      tail.floor = dropped[dropped.length - 1].seq;
    }
  }

  /** Forgets a room (deleted). */
  drop(room: string): void {
    this.rooms.delete(room);
  }

  /** The newest `limit` entries with seq < before (or the newest overall), oldest first. */
  async before(room: string, before: number | undefined, limit: number): Promise<Entry[]> {
    const tail = await this.tail(room);
    const end = before === undefined ? tail.entries.length : lowerBound(tail.entries, before);
    const start = Math.max(0, end - limit);
    // Served from memory when the tail holds `limit` entries below `before`, or holds everything there is.
    if (end - start === limit || tail.floor === 0) return tail.entries.slice(start, end);
    return this.store.entriesBefore(room, before, limit);
  }

  /** Entries with seq > since, oldest first, at most `limit`. */
  async after(room: string, since: number, limit: number): Promise<Entry[]> {
    const tail = await this.tail(room);
    if (since < tail.floor) return this.store.entriesAfter(room, since, limit);
    const start = lowerBound(tail.entries, since + 1);
    return tail.entries.slice(start, start + limit);
  }

  private async tail(room: string): Promise<RoomTail> {
    let tail = this.rooms.get(room);
    if (!tail) {
      const loading: RoomTail = { entries: [], floor: 0, late: [] };
      this.rooms.set(room, loading);
      loading.loading = this.store.entriesBefore(room, undefined, this.capacity).then(
        (entries) => {
          const last = entries.length ? entries[entries.length - 1].seq : 0;
          // Commits that landed while reading: keep those the read did not see.
          loading.entries = [...entries, ...loading.late!.filter((e) => e.seq > last)];
          loading.floor = entries.length === this.capacity ? entries[0].seq - 1 : 0;
          loading.late = undefined;
          loading.loading = undefined;
        },
        (err) => {
          if (this.rooms.get(room) === loading) this.rooms.delete(room);
          throw err;
        },
      );
      tail = loading;
    }
    if (tail.loading) await tail.loading;
    return tail;
  }
}

/** Index of the first entry with seq >= seq (entries are sorted by seq). */
function lowerBound(entries: Entry[], seq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
