import { Entry, MessageEntry, SystemKind, UserInfo } from '../protocol/types';
import { StoredRoom } from './store';

/**
 * Rows as both SQL stores keep them (the same tables and columns in SQLite and PostgreSQL),
 * and how they become the seam's objects. An entry read back serializes exactly as the one
 * `append` returned: same fields, same order.
 */
/** The columns of `entries` and `rooms`, in the order of EntryRow and RoomRow. */
export const ENTRY_COLUMNS = 'room_id, seq, kind, user_id, user_name, user_color, text, gif, gif_width, gif_height, nonce, ts';
export const ROOM_COLUMNS = 'id, title, max, password_hash, owner_id, owner_name, owner_color, created_at, last_seq, last_activity, owner_away_since';

export interface EntryRow {
  room_id: string;
  seq: number;
  kind: string | null;
  user_id: string;
  user_name: string;
  user_color: string;
  text: string | null;
  gif: string | null;
  gif_width: number | null;
  gif_height: number | null;
  nonce: string | null;
  ts: number;
}

export interface RoomRow {
  id: string;
  title: string;
  max: number;
  password_hash: string | null;
  owner_id: string;
  owner_name: string;
  owner_color: string;
  created_at: number;
  last_seq: number;
  last_activity: number;
  owner_away_since: number | null;
}

export function toEntry(row: EntryRow): Entry {
  const user = { id: row.user_id, name: row.user_name, color: row.user_color };
  if (row.kind !== null) {
    return { room: row.room_id, seq: row.seq, kind: row.kind as SystemKind, user, ts: row.ts };
  }
  const entry: Entry = { room: row.room_id, seq: row.seq, user, ts: row.ts };
  if (row.text !== null) entry.text = row.text;
  if (row.gif !== null) {
    entry.gif = row.gif;
    if (row.gif_width !== null && row.gif_height !== null) {
      entry.width = row.gif_width;
      entry.height = row.gif_height;
    }
  }
  if (row.nonce !== null) entry.nonce = row.nonce;
  return entry;
}

/**
 * The entry a new message becomes with `seq`, as toEntry would read it back (same fields,
 * same order). A size comes with a GIF only; `user` is reduced to UserInfo.
 */
export function messageEntry(e: Omit<MessageEntry, 'seq'>, seq: number, user: UserInfo): MessageEntry {
  const entry: MessageEntry = { room: e.room, seq, user, ts: e.ts };
  if (e.text !== undefined) entry.text = e.text;
  if (e.gif !== undefined) {
    entry.gif = e.gif;
    if (e.width !== undefined && e.height !== undefined) {
      entry.width = e.width;
      entry.height = e.height;
    }
  }
  if (e.nonce !== undefined) entry.nonce = e.nonce;
  return entry;
}

export function toRoom(row: RoomRow): StoredRoom {
  return {
    id: row.id,
    title: row.title,
    max: row.max,
    passwordHash: row.password_hash,
    owner: { id: row.owner_id, name: row.owner_name, color: row.owner_color },
    createdAt: row.created_at,
    lastSeq: row.last_seq,
    lastActivity: row.last_activity,
    ownerAwaySince: row.owner_away_since,
  };
}
