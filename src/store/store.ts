import { Entry, MessageEntry, SystemEntry, UserInfo } from '../protocol';
import type { DependencyHealth } from '../health';
import type { GifStore } from './gif-store';

/** A room as created: everything but its log position and who is in it now. */
export interface RoomRecord {
  id: string;
  title: string;
  max: number;
  /** scrypt hash of the password, or null for an open room. Never sent to clients. */
  passwordHash: string | null;
  owner: UserInfo;
  createdAt: number;
}

/** A stored room with the position of its log and the state its owner policy needs. */
export interface StoredRoom extends RoomRecord {
  /** The room's seq counter: the seq of its newest entry (0 when it has none). */
  lastSeq: number;
  /** Time of the newest entry, or of creation when none. */
  lastActivity: number;
  /**
   * Since when (ms since epoch) the owner has been away while the room had members, or
   * null while the owner is around or the room is empty (see chat's owner policy).
   */
  ownerAwaySince: number | null;
}

/** Where a page of rooms by activity continues: after the room with this last activity and id. */
export interface RoomPosition {
  lastActivity: number;
  id: string;
}

/** An entry as the chat hands it to the store: everything but its seq, which the store allocates. */
export type NewEntry = Omit<MessageEntry, 'seq'> | Omit<SystemEntry, 'seq'>;

/**
 * One entry to append, with the room-state change that must commit with it:
 * - `ownerWas`: for an `owner` entry, the owner becomes the entry's user only if the
 *   current owner's id is `ownerWas` (compare-and-set: two servers applying the owner
 *   policy at once hand the room over once); otherwise the append is refused as `conflict`.
 * - `banUntil`: for a `kicked` entry, the user is kept out of the room until then.
 */
export interface AppendOp {
  entry: NewEntry;
  ownerWas?: string;
  banUntil?: number;
}

/**
 * What became of one append:
 * - `entry`: the committed entry, with its seq; `duplicate` when the (room, user, nonce)
 *   was used before and this is the stored original (nothing new was written, no seq used);
 * - `refused`: nothing was written and no seq was used, because the room does not exist
 *   (`not_found`) or the owner was not `ownerWas` (`conflict`).
 */
export type AppendResult = { entry: Entry; duplicate: boolean } | { refused: 'not_found' | 'conflict' };

/** What deleting a room removed. */
export interface DeletedRoom {
  /** False when there was no such room, or it was active after `idleBefore`. */
  deleted: boolean;
  /** URLs of the GIFs its entries referenced (for the GIF store to remove). */
  gifs: string[];
}

/**
 * Durable storage of rooms, their logs, kick bans and HTTP sessions: the one truth
 * that every server process shares.
 *
 * Guarantees (the contract suite in test/store/store-contract.ts checks each):
 * - The store owns each room's log. `append` gives every entry the room's next seq from
 *   a counter on the room's row, inside the transaction that inserts the entry: seqs
 *   are 1, 2, 3… with no gap and no duplicate, also across processes, and an entry with
 *   seq N is visible to readers only once every seq below N is.
 * - Nonce idempotency: a (room, user, nonce) already stored is never stored again;
 *   the append returns the original (`duplicate`), from any process.
 * - `append` commits the whole batch in one transaction. An op that is refused (see
 *   AppendResult) does not affect the others. When the storage itself fails, the whole
 *   batch is rolled back and the promise rejects: nothing of it was written.
 * - Errors: a storage that is down, full or locked for too long rejects with
 *   ChatError `unavailable` (retry later: nothing was written); anything else is a plain
 *   Error (a bug: nothing to retry). No driver type or error crosses this seam.
 * - Reads see every write whose promise has resolved, from this process or another.
 */
export interface Store {
  /** Appends entries in order in one transaction; one result per op, in order. */
  append(ops: readonly AppendOp[]): Promise<AppendResult[]>;
  /** Creates a room (its counter at 0). */
  createRoom(room: RoomRecord): Promise<void>;
  /** A room, or undefined when there is none. */
  room(id: string): Promise<StoredRoom | undefined>;
  /** Every room, oldest first. */
  rooms(): Promise<StoredRoom[]>;
  /**
   * At most `limit` rooms, most recent activity first (ties: greater id first), after
   * `after` in that order (from the first when undefined): a page of the lobby. A room whose
   * activity moves while a client pages may be listed twice or not at all in that walk.
   */
  roomsByActivity(after: RoomPosition | undefined, limit: number): Promise<StoredRoom[]>;
  /** How many rooms exist. */
  roomCount(): Promise<number>;
  /**
   * Deletes a room with its log and bans. With `idleBefore`, only when its last activity
   * is before then (a room that just came alive again is kept).
   */
  deleteRoom(id: string, idleBefore?: number): Promise<DeletedRoom>;
  /**
   * Retention, one bounded step: deletes those of the room's `limit` oldest entries written
   * before `before` (ts); resolves with how many went and the URLs of the GIFs they held (each
   * GIF belongs to the one entry its upload made). Entries of a room are in time order, so
   * calling it until fewer than `limit` go empties the room of old entries; the room's seq
   * counter is untouched (seqs are never reused).
   */
  pruneEntries(room: string, before: number, limit: number): Promise<{ deleted: number; gifs: string[] }>;
  /** Ids of rooms whose last activity is before `before` (candidates for expiry). */
  idleRooms(before: number): Promise<string[]>;
  /** Stores the user's current name and color on the rooms they own; resolves with those rooms' ids. */
  renameOwner(user: UserInfo): Promise<string[]>;
  /** Sets or clears (null) since when the room's owner has been away. */
  setOwnerAway(room: string, since: number | null): Promise<void>;
  /**
   * Until when (ms since epoch) `user`, or any client from `address`, is banned from `room`,
   * if a ban is still running at `now` (the later end when both are).
   */
  bannedUntil(room: string, user: string, now: number, address?: string): Promise<number | undefined>;
  /**
   * Bans client addresses from `room` until `until` (a later end replaces an earlier one,
   * never the reverse). Kept with the user bans (subject `@<address>`): pruned, deleted with
   * the room and copied between stores alike.
   */
  banAddresses(room: string, addresses: readonly string[], until: number): Promise<void>;
  /** How many rooms `owner` (a user id) owns now. */
  ownedRoomCount(owner: string): Promise<number>;
  /** Removes bans that ended by `now`; resolves with how many. */
  pruneBans(now: number): Promise<number>;
  /** Entries with seq > since, oldest first, at most `limit`. */
  entriesAfter(room: string, since: number, limit: number): Promise<Entry[]>;
  /** The newest `limit` entries with seq < before (or the newest overall), oldest first. */
  entriesBefore(room: string, before: number | undefined, limit: number): Promise<Entry[]>;
  /** A session's JSON, or undefined when missing or expired. */
  getSession(sid: string, now: number): Promise<string | undefined>;
  /** Creates or replaces a session. */
  setSession(sid: string, json: string, expires: number): Promise<void>;
  /** Moves a session's expiry. */
  touchSession(sid: string, expires: number): Promise<void>;
  /** Removes a session. */
  destroySession(sid: string): Promise<void>;
  /** Removes sessions expired before `now`; resolves with how many. */
  pruneSessions(now: number): Promise<number>;
  /**
   * Where this store keeps GIF bytes, when it keeps them itself (PostgreSQL: any process
   * serves any GIF). Undefined: the app keeps GIFs as files under DATA_DIR.
   */
  readonly gifs?: GifStore;
  /**
   * The bytes the database takes (SQLite: its files, WAL included; PostgreSQL: the database's
   * size, GIF rows included), for the storage budget. Cheap enough to call every few seconds
   * (file sizes, or one catalog function), never a scan of the rows. Rejects like a read.
   */
  usage(): Promise<number>;
  /** Whether the storage answers (within a bound), and whether writes work. Never rejects. */
  health(): Promise<DependencyHealth>;
  /** Releases the storage. Safe to call twice. */
  close(): Promise<void>;
}

/** The subject under which a client address is banned (user ids never start with `@`). */
export const addressSubject = (address: string): string => `@${address}`;
