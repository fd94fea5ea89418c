import { Entry, UserInfo } from '../protocol';

/** A room as stored: everything but who is in it now. */
export interface RoomRecord {
  id: string;
  title: string;
  max: number;
  /** scrypt hash of the password, or null for an open room. Never sent to clients. */
  passwordHash: string | null;
  owner: UserInfo;
  createdAt: number;
}

/** A stored room with the position of its history. */
export interface StoredRoom extends RoomRecord {
  /** Highest seq stored for the room (0 when it has no entries). */
  lastSeq: number;
  /** Time of the newest entry, or creation when none. */
  lastActivity: number;
}

/** One change to durable state; a batch of them commits all or nothing. */
export type WriteOp =
  | { op: 'createRoom'; room: RoomRecord }
  | { op: 'setOwner'; room: string; owner: UserInfo }
  | { op: 'deleteRoom'; room: string }
  | { op: 'append'; entry: Entry };

/**
 * Durable storage of rooms, their history and HTTP sessions. Implementations
 * (SQLite here; others later) pass the shared contract suite in
 * test/store/store-contract.ts. Errors thrown are plain Errors: no driver type
 * crosses this seam.
 */
export interface Store {
  /** Applies the ops in order in one transaction; resolves once committed. */
  commit(ops: readonly WriteOp[]): Promise<void>;
  /** Every room, oldest first. */
  loadRooms(): Promise<StoredRoom[]>;
  /** Entries with seq > since, oldest first, at most `limit`. */
  entriesAfter(room: string, since: number, limit: number): Promise<Entry[]>;
  /** The newest `limit` entries with seq < before (or the newest overall), oldest first. */
  entriesBefore(room: string, before: number | undefined, limit: number): Promise<Entry[]>;
  /** The message a user sent to a room with this nonce, if any. */
  findByNonce(room: string, userId: string, nonce: string): Promise<Entry | undefined>;
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
  /** Releases the storage. Safe to call twice. */
  close(): Promise<void>;
}
