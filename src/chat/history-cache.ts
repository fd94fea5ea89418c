import { Entry, entryJson } from '../protocol';
import { Store } from '../store/store';

/** Entries kept in memory per room: the tail every join and most `history` pages read. */
export const CACHE_PER_ROOM = 100;
/** Bytes all rooms' tails may hold together by default (HISTORY_CACHE_BYTES). */
export const CACHE_BYTES = 64 * 1024 * 1024;

/** A page of history as the protocol sends it: the entries' JSON array, oldest first. */
export interface HistoryPage {
  json: string;
  count: number;
  /** The newest entry's seq; 0 when the page is empty. */
  last: number;
}

/**
 * A page read forward from a seq (a resume), and whether more entries follow it: past
 * the count limit, or past the byte budget (a page always holds at least one entry, so a
 * client paging on with `since` = its last seq always makes progress).
 */
export interface ResumePage extends HistoryPage {
  more: boolean;
}

/** What a room's tail starts with (a quiet room stays small): bytes, and entries. */
const MIN_BYTES = 256;
const MIN_SLOTS = 8;
const COMMA = 0x2c;

/**
 * One room's newest committed entries, kept as their JSON bytes in one Buffer outside
 * the JS heap, with their seqs and byte ends in typed arrays. A busy server commits
 * thousands of entries a second; kept as objects, each one outlived the young
 * generation only to die in the old one, and the old generation's full collections
 * then stalled every room. Here an entry costs no heap object at all.
 *
 * Entries [first, count) are live, oldest first; entry i's JSON and a trailing comma
 * end at ends[i] and start where entry i-1 ends (or at 0), so any run of entries is
 * one comma-joined byte range.
 */
class RoomTail {
  /** Every committed entry with seq > floor is here. */
  floor = 0;
  private first = 0;
  private count = 0;
  private used = 0;
  private seqs = new Float64Array(MIN_SLOTS);
  private ends = new Int32Array(MIN_SLOTS);
  private bytes = Buffer.allocUnsafeSlow(MIN_BYTES);

  constructor(private readonly capacity: number) {}

  /** Bytes this tail holds in memory (its buffer and its slots). */
  size(): number {
    return this.bytes.length + this.seqs.byteLength + this.ends.byteLength;
  }

  /** The newest seq held (the floor when none). */
  last(): number {
    return this.count > this.first ? this.seqs[this.count - 1] : this.floor;
  }

  /** Appends the next entry (seqs ascend), dropping the oldest past capacity. */
  add(seq: number, json: string): void {
    if (this.count - this.first === this.capacity) {
      this.floor = this.seqs[this.first];
      this.first++;
    }
    const length = Buffer.byteLength(json) + 1;
    if (this.count === this.seqs.length || this.used + length > this.bytes.length) this.compact(length);
    this.bytes.write(json, this.used, 'utf8');
    this.used += length;
    this.bytes[this.used - 1] = COMMA;
    this.seqs[this.count] = seq;
    this.ends[this.count] = this.used;
    this.count++;
  }

  /**
   * The newest `limit` entries with seq < before (or the newest overall), fewer when their
   * JSON would pass `maxBytes` (at least one); null when the store must answer.
   */
  before(before: number | undefined, limit: number, maxBytes: number): HistoryPage | null {
    const end = before === undefined ? this.count : this.lowerBound(before);
    let start = Math.max(this.first, end - limit);
    // Served from memory when the tail holds `limit` entries below `before`, or holds everything there is.
    if (end - start !== limit && this.floor !== 0) return null;
    while (end - start > 1 && this.rangeBytes(start, end) > maxBytes) start++;
    return this.page(start, end);
  }

  /** Entries with seq > since, at most `limit` and `maxBytes` (at least one), and whether more follow; null when the store must answer. */
  after(since: number, limit: number, maxBytes: number): ResumePage | null {
    if (since < this.floor) return null;
    const start = this.lowerBound(since + 1);
    let end = Math.min(this.count, start + limit);
    while (end - start > 1 && this.rangeBytes(start, end) > maxBytes) end--;
    return { ...this.page(start, end), more: end < this.count };
  }

  /** Bytes of entries [start, end) as a JSON array (their commas and the brackets). */
  private rangeBytes(start: number, end: number): number {
    return this.ends[end - 1] - (start === 0 ? 0 : this.ends[start - 1]) + 1;
  }

  private page(start: number, end: number): HistoryPage {
    if (start >= end) return { json: '[]', count: 0, last: 0 };
    const from = start === 0 ? 0 : this.ends[start - 1];
    // The range ends with a comma: leave it out.
    return { json: `[${this.bytes.toString('utf8', from, this.ends[end - 1] - 1)}]`, count: end - start, last: this.seqs[end - 1] };
  }

  /** Index of the first live entry with seq >= seq. */
  private lowerBound(seq: number): number {
    let lo = this.first;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Moves the live entries to the front, growing the slots (up to room for a second
   * capacity's worth of appends between compactions) when more than half are live, and
   * the byte buffer when `need` more bytes would not fit.
   */
  private compact(need: number): void {
    const shift = this.first === 0 ? 0 : this.ends[this.first - 1];
    const live = this.count - this.first;
    const liveBytes = this.used - shift;
    let bytes = this.bytes;
    // Keep the buffer within about twice what the tail holds, so a room's memory follows its entries.
    if (liveBytes + need > bytes.length || bytes.length > 4 * (liveBytes + need) + MIN_BYTES) {
      bytes = Buffer.allocUnsafeSlow(Math.max(MIN_BYTES, 2 * (liveBytes + need)));
    }
    this.bytes.copy(bytes, 0, shift, this.used);
    this.bytes = bytes;
    if (2 * live > this.seqs.length && this.seqs.length < 2 * this.capacity) {
      const slots = Math.min(2 * this.capacity, 2 * this.seqs.length);
      const seqs = new Float64Array(slots);
      const ends = new Int32Array(slots);
      seqs.set(this.seqs.subarray(this.first, this.count));
      ends.set(this.ends.subarray(this.first, this.count));
      this.seqs = seqs;
      this.ends = ends;
    } else {
      this.seqs.copyWithin(0, this.first, this.count);
      this.ends.copyWithin(0, this.first, this.count);
    }
    for (let i = 0; i < live; i++) this.ends[i] -= shift;
    this.first = 0;
    this.count = live;
    this.used = liveBytes;
  }
}

interface Slot {
  tail: RoomTail;
  /** The tail's size as last counted in the cache's total. */
  counted: number;
  /** While the tail is being read from the store: entries committed meanwhile. */
  loading?: Promise<void>;
  late?: Entry[];
}

/** Entries a resume reads from the store first; each further read takes four times as many (at most RESUME_CHUNK_MAX). */
const RESUME_CHUNK = 32;
const RESUME_CHUNK_MAX = 1000;

/**
 * Reads of room history, served from a per-room tail of committed entries when it
 * covers the request and from the store otherwise. Only rooms this process follows
 * (`track`: it has sockets there and receives the room's entries in seq order) keep a
 * tail; the tail holds a contiguous run of seqs up to the newest entry received, and an
 * entry that would leave a hole drops it (the next read reloads it from the store). Every
 * other room is read from the store, so no answer ever lacks an entry another process
 * committed.
 *
 * Bounds: a tail holds at most `capacity` entries, and all tails together at most
 * `budget` bytes (HISTORY_CACHE_BYTES: their buffers and slots): past it the least
 * recently read rooms' tails are dropped (a dropped tail is reloaded from the store by
 * its next read, so eviction costs a read, never an answer). Every page is bounded by
 * the `maxBytes` its caller passes as well as by its count.
 */
export class HistoryCache {
  /** Tails by room, least recently read first (a read moves its room to the end). */
  private readonly rooms = new Map<string, Slot>();
  private readonly tracked = new Set<string>();
  private total = 0;

  constructor(
    private readonly store: Store,
    private readonly capacity = CACHE_PER_ROOM,
    private readonly budget = CACHE_BYTES,
  ) {}

  /** Bytes the cached tails hold now (at most the budget once an add or a load returns). */
  get bytes(): number {
    return this.total;
  }

  /** Starts keeping a tail for the room: from now on every entry it commits is passed to add(), in seq order. */
  track(room: string): void {
    this.tracked.add(room);
  }

  /** Stops keeping the room's tail (no local sockets any more, or deleted). */
  drop(room: string): void {
    this.tracked.delete(room);
    this.forget(room);
  }

  /**
   * Drops the room's cached tail, uncounting it, but keeps tracking the room: the next read
   * loads it from the store again (when entries were deleted, or to stay within the budget).
   */
  forget(room: string): void {
    const slot = this.rooms.get(room);
    if (!slot) return;
    this.total -= slot.counted;
    this.rooms.delete(room);
  }

  /** Counts the slot's current size (when it is still the room's) and evicts the least recently read tails past the budget. */
  private account(room: string, slot: Slot): void {
    if (this.rooms.get(room) !== slot) return;
    const size = slot.tail.size();
    this.total += size - slot.counted;
    slot.counted = size;
    for (const oldest of this.rooms.keys()) {
      if (this.total <= this.budget) break;
      this.forget(oldest);
    }
  }

  /** Records a committed entry of a tracked room (call in seq order; duplicates are ignored). */
  add(entry: Entry): void {
    const slot = this.rooms.get(entry.room);
    if (!slot) return;
    if (slot.late) return void slot.late.push(entry);
    const last = slot.tail.last();
    if (entry.seq <= last) return;
    if (entry.seq > last + 1) return this.forget(entry.room);
    slot.tail.add(entry.seq, entryJson(entry));
    this.account(entry.room, slot);
  }

  /**
   * The newest `limit` entries with seq < before (or the newest overall), oldest first;
   * fewer (the newest of them, at least one) when their JSON would pass `maxBytes`.
   */
  async before(room: string, before: number | undefined, limit: number, maxBytes = Infinity): Promise<HistoryPage> {
    const tail = await this.current(room, before);
    const page = tail?.before(before, limit, maxBytes);
    if (page) return page;
    const entries = await this.store.entriesBefore(room, before, limit);
    const json = entries.map(entryJson);
    let start = entries.length;
    let bytes = 1;
    while (start > 0 && (start === entries.length || bytes + Buffer.byteLength(json[start - 1]) + 1 <= maxBytes)) bytes += Buffer.byteLength(json[--start]) + 1;
    return jsonPage(entries.slice(start), json.slice(start));
  }

  /**
   * Entries with seq > since, oldest first, at most `limit` and (at least one) `maxBytes`
   * of JSON, and whether more follow: `more` is true whenever an entry after the page's
   * last one is committed, so paging on from its last seq misses nothing.
   */
  async after(room: string, since: number, limit: number, maxBytes = Infinity): Promise<ResumePage> {
    const tail = await this.current(room, undefined);
    const page = tail?.after(since, limit, maxBytes);
    if (page) return page;
    // From the store in growing chunks, so a page cut short by `maxBytes` reads (and encodes)
    // little more than it returns: a resume from 0 of large entries reads a page, not `limit` rows.
    const entries: Entry[] = [];
    const json: string[] = [];
    let bytes = 1;
    let after = since;
    for (let chunk = RESUME_CHUNK; ; chunk = Math.min(chunk * 4, RESUME_CHUNK_MAX)) {
      const take = Math.min(chunk, limit - entries.length);
      const rows = await this.store.entriesAfter(room, after, take);
      for (const entry of rows) {
        const text = entryJson(entry);
        const size = Buffer.byteLength(text) + 1;
        // Past the budget (a page holds at least one entry): this entry is the next page's.
        if (entries.length > 0 && bytes + size > maxBytes) return { ...jsonPage(entries, json), more: true };
        entries.push(entry);
        json.push(text);
        bytes += size;
      }
      if (rows.length < take) return { ...jsonPage(entries, json), more: false };
      after = entries[entries.length - 1].seq;
      if (entries.length >= limit) return { ...jsonPage(entries, json), more: (await this.store.entriesAfter(room, after, 1)).length > 0 };
    }
  }

  /**
   * The room's tail when it can answer a read reaching up to `before` (undefined: the newest
   * entries): only when it holds everything up to the room's head in the store. Entries
   * another process committed reach this tail a moment later (through the bus); until
   * then, the store answers.
   */
  private async current(room: string, before: number | undefined): Promise<RoomTail | undefined> {
    const tail = await this.tail(room);
    if (!tail) return undefined;
    if (before !== undefined && before <= tail.last()) return tail;
    const stored = await this.store.room(room);
    return stored !== undefined && stored.lastSeq <= tail.last() ? tail : undefined;
  }

  private async tail(room: string): Promise<RoomTail | undefined> {
    if (!this.tracked.has(room)) return undefined;
    let slot = this.rooms.get(room);
    if (slot) {
      // Read now: the most recently used.
      this.rooms.delete(room);
      this.rooms.set(room, slot);
    } else {
      const loading: Slot = { tail: new RoomTail(this.capacity), counted: 0, late: [] };
      this.rooms.set(room, loading);
      loading.loading = this.store.entriesBefore(room, undefined, this.capacity).then(
        (entries) => {
          const last = entries.length ? entries[entries.length - 1].seq : 0;
          if (entries.length === this.capacity) loading.tail.floor = entries[0].seq - 1;
          // Commits that landed while reading: keep those the read did not see, while they follow on.
          for (const entry of entries) loading.tail.add(entry.seq, entryJson(entry));
          let next = last + 1;
          for (const entry of loading.late!) {
            if (entry.seq < next) continue;
            if (entry.seq > next) break;
            loading.tail.add(entry.seq, entryJson(entry));
            next++;
          }
          loading.late = undefined;
          loading.loading = undefined;
          this.account(room, loading);
        },
        (err) => {
          if (this.rooms.get(room) === loading) this.forget(room);
          throw err;
        },
      );
      slot = loading;
    }
    if (slot.loading) await slot.loading;
    return slot.tail;
  }
}

function jsonPage(entries: readonly Entry[], json: readonly string[]): HistoryPage {
  return { json: `[${json.join(',')}]`, count: entries.length, last: entries.length ? entries[entries.length - 1].seq : 0 };
}
