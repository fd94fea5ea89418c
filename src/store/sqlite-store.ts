import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WalCheckpointer } from './wal-checkpointer';
import { Entry, SystemKind } from '../protocol';
import { RoomRecord, Store, StoredRoom, WriteOp } from './store';

const schema = `
CREATE TABLE IF NOT EXISTS rooms (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  max INTEGER NOT NULL,
  password_hash TEXT,
  owner_id TEXT NOT NULL,
  owner_name TEXT NOT NULL,
  owner_color TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
  room_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT,
  user_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  user_color TEXT NOT NULL,
  text TEXT,
  gif TEXT,
  nonce TEXT,
  ts INTEGER NOT NULL,
  PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_nonce ON entries (room_id, user_id, nonce) WHERE nonce IS NOT NULL;
CREATE TABLE IF NOT EXISTS sessions (
  sid TEXT PRIMARY KEY,
  json TEXT NOT NULL,
  expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires);
`;

interface EntryRow {
  room_id: string;
  seq: number;
  kind: string | null;
  user_id: string;
  user_name: string;
  user_color: string;
  text: string | null;
  gif: string | null;
  nonce: string | null;
  ts: number;
}

interface RoomRow {
  id: string;
  title: string;
  max: number;
  password_hash: string | null;
  owner_id: string;
  owner_name: string;
  owner_color: string;
  created_at: number;
  last_seq: number | null;
  last_ts: number | null;
}

function toEntry(row: EntryRow): Entry {
  const user = { id: row.user_id, name: row.user_name, color: row.user_color };
  if (row.kind !== null) {
    return { room: row.room_id, seq: row.seq, kind: row.kind as SystemKind, user, ts: row.ts };
  }
  const entry: Entry = { room: row.room_id, seq: row.seq, user, ts: row.ts };
  if (row.text !== null) entry.text = row.text;
  if (row.gif !== null) entry.gif = row.gif;
  if (row.nonce !== null) entry.nonce = row.nonce;
  return entry;
}

function toRoom(row: RoomRow): StoredRoom {
  return {
    id: row.id,
    title: row.title,
    max: row.max,
    passwordHash: row.password_hash,
    owner: { id: row.owner_id, name: row.owner_name, color: row.owner_color },
    createdAt: row.created_at,
    lastSeq: row.last_seq ?? 0,
    lastActivity: row.last_ts ?? row.created_at,
  };
}

/** How long a call keeps retrying while the checkpointer holds the database, and how often. */
const BUSY_GIVE_UP_MS = 5000;
const BUSY_RETRY_MS = 1;

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
const failure = (what: string, err: unknown) => new Error(`store: ${what} failed: ${(err as Error).message}`);

/**
 * Runs one driver call. Driver errors stay behind the seam: callers see a plain Error
 * with a short reason. While the checkpointer briefly holds the database (a WAL rewind),
 * the call is retried on a timer instead of sleeping in SQLite's busy handler, which
 * would stop the whole event loop, every room with it.
 */
function wrap<T>(what: string, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return isBusy(err) ? retryWhileBusy(what, fn) : Promise.reject(failure(what, err));
  }
}

async function retryWhileBusy<T>(what: string, fn: () => T): Promise<T> {
  const giveUpAt = Date.now() + BUSY_GIVE_UP_MS;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err) || Date.now() > giveUpAt) throw failure(what, err);
    }
  }
}

/** How often the worker thread checkpoints the WAL. */
export const CHECKPOINT_INTERVAL_MS = 500;
/**
 * The WAL's size bound: past it the checkpointer rewinds the WAL even while writes never
 * pause, and the file is trimmed back to it once the WAL starts over.
 */
export const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/** Tuning for tests; the defaults above are what the server runs with. */
export interface SqliteStoreOptions {
  checkpointIntervalMs?: number;
  walSizeLimit?: number;
}

/**
 * Opens (creating when needed) the SQLite database at `file`, in WAL mode.
 * synchronous=NORMAL: a committed transaction survives a crash of the process
 * (kill -9); only a power loss can take the last ones back.
 */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Store {
  const walSizeLimit = options.walSizeLimit ?? WAL_SIZE_LIMIT;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = OFF');
  db.pragma('busy_timeout = 5000');
  // After a checkpoint lets the WAL start over, trim the file back to this size.
  db.pragma(`journal_size_limit = ${walSizeLimit}`);
  db.exec(schema);
  // Checkpoints run in a worker thread; if it fails, commits checkpoint as SQLite does by default.
  db.pragma('wal_autocheckpoint = 0');
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const restartFrames = Math.max(1, Math.floor(walSizeLimit / pageSize));
  const checkpointer = new WalCheckpointer(path.resolve(file), options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS, restartFrames, () => {
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
  });
  // From here on, never wait for a lock inside SQLite (that blocks the event loop while the
  // checkpointer rewinds the WAL): wrap() retries on a timer instead.
  db.pragma('busy_timeout = 0');

  // Prepared once; the hot path only binds and steps.
  const insertRoom = db.prepare(
    'INSERT INTO rooms (id, title, max, password_hash, owner_id, owner_name, owner_color, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const updateOwner = db.prepare('UPDATE rooms SET owner_id = ?, owner_name = ?, owner_color = ? WHERE id = ?');
  const deleteEntries = db.prepare('DELETE FROM entries WHERE room_id = ?');
  const deleteRoom = db.prepare('DELETE FROM rooms WHERE id = ?');
  const insertEntry = db.prepare(
    'INSERT INTO entries (room_id, seq, kind, user_id, user_name, user_color, text, gif, nonce, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const selectRooms = db.prepare(`
    SELECT r.*, (SELECT e.seq FROM entries e WHERE e.room_id = r.id ORDER BY e.seq DESC LIMIT 1) AS last_seq,
           (SELECT e.ts FROM entries e WHERE e.room_id = r.id ORDER BY e.seq DESC LIMIT 1) AS last_ts
    FROM rooms r ORDER BY r.created_at, r.rowid`);
  const selectAfter = db.prepare('SELECT * FROM entries WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?');
  const selectLatest = db.prepare('SELECT * FROM (SELECT * FROM entries WHERE room_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq');
  const selectBefore = db.prepare(
    'SELECT * FROM (SELECT * FROM entries WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq',
  );
  const selectNonce = db.prepare('SELECT * FROM entries WHERE room_id = ? AND user_id = ? AND nonce = ? LIMIT 1');
  const selectSession = db.prepare('SELECT json FROM sessions WHERE sid = ? AND expires > ?');
  const upsertSession = db.prepare(
    'INSERT INTO sessions (sid, json, expires) VALUES (?, ?, ?) ON CONFLICT(sid) DO UPDATE SET json = excluded.json, expires = excluded.expires',
  );
  const touchSession = db.prepare('UPDATE sessions SET expires = ? WHERE sid = ?');
  const deleteSession = db.prepare('DELETE FROM sessions WHERE sid = ?');
  const pruneSessions = db.prepare('DELETE FROM sessions WHERE expires <= ?');

  const apply = (op: WriteOp): void => {
    switch (op.op) {
      case 'append': {
        const e = op.entry;
        const kind = 'kind' in e ? e.kind : null;
        const msg = e as { text?: string; gif?: string; nonce?: string };
        insertEntry.run(e.room, e.seq, kind, e.user.id, e.user.name, e.user.color, msg.text ?? null, msg.gif ?? null, msg.nonce ?? null, e.ts);
        return;
      }
      case 'createRoom': {
        const r: RoomRecord = op.room;
        insertRoom.run(r.id, r.title, r.max, r.passwordHash, r.owner.id, r.owner.name, r.owner.color, r.createdAt);
        return;
      }
      case 'setOwner':
        updateOwner.run(op.owner.id, op.owner.name, op.owner.color, op.room);
        return;
      case 'deleteRoom':
        deleteEntries.run(op.room);
        deleteRoom.run(op.room);
        return;
    }
  };
  const commitAll = db.transaction((ops: readonly WriteOp[]) => {
    for (const op of ops) apply(op);
  });

  let closed = false;
  return {
    commit: (ops) => wrap('commit', () => commitAll(ops)),
    loadRooms: () => wrap('loadRooms', () => (selectRooms.all() as RoomRow[]).map(toRoom)),
    entriesAfter: (room, since, limit) => wrap('entriesAfter', () => (selectAfter.all(room, since, limit) as EntryRow[]).map(toEntry)),
    entriesBefore: (room, before, limit) =>
      wrap('entriesBefore', () =>
        ((before === undefined ? selectLatest.all(room, limit) : selectBefore.all(room, before, limit)) as EntryRow[]).map(toEntry),
      ),
    findByNonce: (room, userId, nonce) =>
      wrap('findByNonce', () => {
        const row = selectNonce.get(room, userId, nonce) as EntryRow | undefined;
        return row && toEntry(row);
      }),
    getSession: (sid, now) => wrap('getSession', () => (selectSession.get(sid, now) as { json: string } | undefined)?.json),
    setSession: (sid, json, expires) => wrap('setSession', () => void upsertSession.run(sid, json, expires)),
    touchSession: (sid, expires) => wrap('touchSession', () => void touchSession.run(expires, sid)),
    destroySession: (sid) => wrap('destroySession', () => void deleteSession.run(sid)),
    pruneSessions: (now) => wrap('pruneSessions', () => pruneSessions.run(now).changes),
    close: async () => {
      if (closed) return;
      closed = true;
      await checkpointer.close();
      // The last connection to close checkpoints what is left and removes the WAL.
      return wrap('close', () => void db.close());
    },
  };
}
