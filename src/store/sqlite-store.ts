import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WalCheckpointer } from './wal-checkpointer';
import { ChatError, fail } from '../protocol/errors';
import { checkHealth } from '../health';
import { EntryRow, messageEntry, RoomRow, toEntry, toRoom } from './rows';
import { addressSubject, AppendOp, AppendResult, DeletedRoom, RoomRecord, Store } from './store';

/**
 * The schema, as numbered migrations: `PRAGMA user_version` is how many have been applied.
 * Every database, new or old, goes through the same steps, so all end with the same schema.
 * Append only: never edit a migration that has shipped.
 */
const migrations: readonly string[] = [
  // 1. The schema from before versioning: databases made then already have it (user_version 0).
  `
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
`,
  // 2. The store owns each room's log: the seq counter, last activity and owner absence live
  //    on the room's row; nonces are unique per (room, user); kick bans are stored.
  `
ALTER TABLE rooms ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN last_activity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN owner_away_since INTEGER;
UPDATE rooms SET
  last_seq = COALESCE((SELECT max(e.seq) FROM entries e WHERE e.room_id = rooms.id), 0),
  last_activity = COALESCE((SELECT e.ts FROM entries e WHERE e.room_id = rooms.id ORDER BY e.seq DESC LIMIT 1), created_at);
-- Before the index was unique, a nonce could in rare races be stored twice: the first stays the original.
UPDATE entries SET nonce = NULL WHERE nonce IS NOT NULL AND EXISTS (
  SELECT 1 FROM entries o WHERE o.room_id = entries.room_id AND o.user_id = entries.user_id AND o.nonce = entries.nonce AND o.seq < entries.seq
);
DROP INDEX IF EXISTS entries_nonce;
-- Unique per (room, user, nonce). The nonce before the user: clients' nonces start with the
-- time, so new keys land at the end of the room's part of the index (as entries do in the
-- table), not in one place per sender (with 100 senders, 40% fewer WAL bytes per append).
CREATE UNIQUE INDEX entries_nonce ON entries (room_id, nonce, user_id) WHERE nonce IS NOT NULL;
CREATE TABLE bans (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  until INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
`,
  // 3. A GIF's size in pixels, for clients to reserve its box (older entries have none).
  `
ALTER TABLE entries ADD COLUMN gif_width INTEGER;
ALTER TABLE entries ADD COLUMN gif_height INTEGER;
`,
  // 4. Rooms by owner (the ROOMS_PER_USER quota counts them), bans by end (kicks ban the
  //    client's addresses too, so there are more of them to prune).
  `
CREATE INDEX rooms_owner ON rooms (owner_id);
CREATE INDEX bans_until ON bans (until);
`,
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = migrations.length;

/** Brings the database up to SCHEMA_VERSION, all steps in one transaction (another process may be doing the same). */
function migrate(db: Database.Database): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  if (version() === SCHEMA_VERSION) return;
  db.transaction(() => {
    const from = version(); // again, now that this connection holds the write lock
    if (from > SCHEMA_VERSION) throw new Error(`the database's schema (version ${from}) is newer than this server's (${SCHEMA_VERSION})`);
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(migrations[v]);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** How long a call keeps retrying while the checkpointer holds the database, and how often. */
const BUSY_GIVE_UP_MS = 5000;
const BUSY_RETRY_MS = 1;

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Failures of the storage itself (not of the request or the code), by error code prefix:
 * answered as `unavailable` (retry later), with a reason short enough to show anyone.
 */
const storageFailures: ReadonlyArray<readonly [string, string]> = [
  ['SQLITE_FULL', 'the disk is full'],
  ['SQLITE_IOERR', 'disk I/O error'],
  ['SQLITE_CANTOPEN', 'the database file cannot be opened'],
  ['SQLITE_READONLY', 'the database is read-only'],
  ['SQLITE_BUSY', 'the database stayed locked too long'],
  ['SQLITE_PROTOCOL', 'the database stayed locked too long'],
  ['SQLITE_NOMEM', 'out of memory'],
  // A damaged file is no bug of the caller's: nothing can be stored until an operator steps in.
  ['SQLITE_CORRUPT', 'the database file is damaged'],
  ['SQLITE_NOTADB', 'the database file is damaged'],
  // Opening: the folder cannot be made or written.
  ['ENOSPC', 'the disk is full'],
  ['EROFS', 'the database is read-only'],
  ['EACCES', 'the database file cannot be opened'],
  ['EPERM', 'the database file cannot be opened'],
  ['EIO', 'disk I/O error'],
];

/** What a driver error becomes on this side of the seam. */
function failure(what: string, err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    for (const [prefix, reason] of storageFailures) {
      if (code.startsWith(prefix)) return fail.unavailable(`storage is unavailable: ${reason}`);
    }
  }
  return new Error(`store: ${what} failed: ${(err as Error | null)?.message ?? String(err)}`);
}

/**
 * Runs one driver call. Driver errors stay behind the seam: callers see ChatError
 * `unavailable` when the storage failed, else a plain Error with a short reason. While the
 * checkpointer briefly holds the database (a WAL rewind), the call is retried on a timer
 * instead of sleeping in SQLite's busy handler, which would stop the whole event loop,
 * every room with it.
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
 * Opens (creating when needed) the SQLite database at `file`, in WAL mode, and brings its
 * schema up to date. synchronous=NORMAL: a committed transaction survives a crash of the
 * process (kill -9); only a power loss can take the last ones back.
 * Throws ChatError `unavailable` when the file cannot be opened or written, else a plain Error.
 */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Store {
  let db: Database.Database | undefined;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = OFF');
    // Temporary tables (GROUP BY, RETURNING) stay in memory: the statements here make small
    // ones, and on disk each costs a temporary file's writes (that halved append throughput).
    db.pragma('temp_store = MEMORY');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return open(db, file, options);
  } catch (err) {
    if (db?.open) db.close();
    throw failure('open', err);
  }
}

function open(db: Database.Database, file: string, options: SqliteStoreOptions): Store {
  const walSizeLimit = options.walSizeLimit ?? WAL_SIZE_LIMIT;
  // After a checkpoint lets the WAL start over, trim the file back to this size.
  db.pragma(`journal_size_limit = ${walSizeLimit}`);
  // Prepared once; the hot path only binds and steps.
  const insertRoom = db.prepare(
    `INSERT INTO rooms (id, title, max, password_hash, owner_id, owner_name, owner_color, created_at, last_seq, last_activity, owner_away_since)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL)`,
  );
  const selectRoom = db.prepare('SELECT * FROM rooms WHERE id = ?');
  const selectRooms = db.prepare('SELECT * FROM rooms ORDER BY created_at, rowid');
  const countRooms = db.prepare('SELECT COUNT(*) FROM rooms').pluck();
  // No index on last_activity: every append updates it. A page is one scan keeping the top `limit`.
  const selectActiveRooms = db.prepare('SELECT * FROM rooms ORDER BY last_activity DESC, id DESC LIMIT ?');
  const selectActiveRoomsAfter = db.prepare('SELECT * FROM rooms WHERE (last_activity, id) < (?, ?) ORDER BY last_activity DESC, id DESC LIMIT ?');
  const pruneBans = db.prepare('DELETE FROM bans WHERE until <= ?');
  const selectCounter = db.prepare('SELECT last_seq FROM rooms WHERE id = ?').pluck();
  const storeCounter = db.prepare('UPDATE rooms SET last_seq = ?, last_activity = ? WHERE id = ?');
  const setOwner = db.prepare('UPDATE rooms SET owner_id = ?, owner_name = ?, owner_color = ? WHERE id = ?');
  const casOwner = db.prepare('UPDATE rooms SET owner_id = ?, owner_name = ?, owner_color = ? WHERE id = ? AND owner_id = ?');
  const renameOwner = db.prepare('UPDATE rooms SET owner_name = ?, owner_color = ? WHERE owner_id = ? RETURNING id').pluck();
  const setOwnerAway = db.prepare('UPDATE rooms SET owner_away_since = ? WHERE id = ?');
  const selectIdle = db.prepare('SELECT id FROM rooms WHERE last_activity < ? ORDER BY last_activity, rowid').pluck();
  const selectActivity = db.prepare('SELECT last_activity FROM rooms WHERE id = ?').pluck();
  const selectGifs = db.prepare('SELECT gif FROM entries WHERE room_id = ? AND gif IS NOT NULL GROUP BY gif ORDER BY min(seq)').pluck();
  const deleteEntries = db.prepare('DELETE FROM entries WHERE room_id = ?');
  const deleteBans = db.prepare('DELETE FROM bans WHERE room_id = ?');
  const deleteRoom = db.prepare('DELETE FROM rooms WHERE id = ?');
  // Looks at the room's `limit` oldest entries only (the primary key's order): a bounded step.
  const pruneOld = db.prepare(
    'DELETE FROM entries WHERE room_id = ? AND seq IN (SELECT seq FROM (SELECT seq, ts FROM entries WHERE room_id = ? ORDER BY seq LIMIT ?) WHERE ts < ?) RETURNING gif',
  );
  const upsertBan = db.prepare(
    'INSERT INTO bans (room_id, user_id, until) VALUES (?, ?, ?) ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until',
  );
  const selectBan = db.prepare('SELECT until FROM bans WHERE room_id = ? AND user_id = ?').pluck();
  const deleteExpiredBan = db.prepare('DELETE FROM bans WHERE room_id = ? AND user_id = ? AND until <= ?');
  const extendBan = db.prepare(
    'INSERT INTO bans (room_id, user_id, until) VALUES (?, ?, ?) ON CONFLICT (room_id, user_id) DO UPDATE SET until = max(until, excluded.until)',
  );
  const countOwned = db.prepare('SELECT COUNT(*) FROM rooms WHERE owner_id = ?').pluck();
  const banAddresses = db.transaction((room: string, addresses: readonly string[], until: number) => {
    for (const address of addresses) extendBan.run(room, addressSubject(address), until);
  }).immediate;
  /** A running ban's end for one subject, removing an ended one on the way. */
  const banOf = (room: string, subject: string, now: number): number | undefined => {
    const until = selectBan.get(room, subject) as number | undefined;
    if (until === undefined) return undefined;
    if (until > now) return until;
    deleteExpiredBan.run(room, subject, now);
    return undefined;
  };
  const insertEntry = db.prepare(
    'INSERT INTO entries (room_id, seq, kind, user_id, user_name, user_color, text, gif, gif_width, gif_height, nonce, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const selectNonce = db.prepare('SELECT * FROM entries WHERE room_id = ? AND user_id = ? AND nonce = ?');
  const selectAfter = db.prepare('SELECT * FROM entries WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?');
  const selectLatest = db.prepare('SELECT * FROM (SELECT * FROM entries WHERE room_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq');
  const selectBefore = db.prepare(
    'SELECT * FROM (SELECT * FROM entries WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq',
  );
  const selectSession = db.prepare('SELECT json FROM sessions WHERE sid = ? AND expires > ?');
  const upsertSession = db.prepare(
    'INSERT INTO sessions (sid, json, expires) VALUES (?, ?, ?) ON CONFLICT(sid) DO UPDATE SET json = excluded.json, expires = excluded.expires',
  );
  const touchSession = db.prepare('UPDATE sessions SET expires = ? WHERE sid = ?');
  const deleteSession = db.prepare('DELETE FROM sessions WHERE sid = ?');
  const pruneSessions = db.prepare('DELETE FROM sessions WHERE expires <= ?');

  /**
   * The seq counters of the rooms a batch appends to. The batch holds the write lock from
   * its first statement (BEGIN IMMEDIATE), so no other connection can move a counter while
   * it runs: each is read once, counted up in memory, and written back once at the end of
   * the batch, in the same transaction (one UPDATE per room instead of one per entry).
   */
  interface Counter {
    /** The seq of the room's newest entry. */
    seq: number;
    /** That entry's time. */
    ts: number;
    appended: boolean;
  }
  const counters = new Map<string, Counter | null>();
  /** The room's counter, or null when there is no such room. */
  const counterOf = (room: string): Counter | null => {
    let counter = counters.get(room);
    if (counter === undefined) {
      const seq = selectCounter.get(room) as number | undefined;
      counter = seq === undefined ? null : { seq, ts: 0, appended: false };
      counters.set(room, counter);
    }
    return counter;
  };

  /** One op of a batch, inside its transaction. Writes nothing unless it returns a new entry. */
  const appendOne = (op: AppendOp): AppendResult => {
    const e = op.entry;
    const room = e.room;
    const user = e.user;
    if ('kind' in e) {
      if (op.ownerWas !== undefined && e.kind !== 'owner') throw new Error(`ownerWas is for owner entries, not ${e.kind}`);
      if (op.banUntil !== undefined && e.kind !== 'kicked') throw new Error(`banUntil is for kicked entries, not ${e.kind}`);
      const counter = counterOf(room);
      if (counter === null) return { refused: 'not_found' };
      if (e.kind === 'owner') {
        // The hand-over first: a refused one must not use a seq.
        const changed =
          op.ownerWas === undefined
            ? setOwner.run(user.id, user.name, user.color, room).changes
            : casOwner.run(user.id, user.name, user.color, room, op.ownerWas).changes;
        if (changed === 0) return { refused: 'conflict' };
      }
      const seq = ++counter.seq;
      counter.ts = e.ts;
      counter.appended = true;
      if (op.banUntil !== undefined) upsertBan.run(room, user.id, op.banUntil);
      insertEntry.run(room, seq, e.kind, user.id, user.name, user.color, null, null, null, null, null, e.ts);
      return { entry: { room, seq, kind: e.kind, user: { id: user.id, name: user.name, color: user.color }, ts: e.ts }, duplicate: false };
    }
    if (op.ownerWas !== undefined || op.banUntil !== undefined) throw new Error('ownerWas and banUntil are not for messages');
    const nonce = e.nonce;
    if (nonce !== undefined) {
      const stored = selectNonce.get(room, user.id, nonce) as EntryRow | undefined;
      if (stored !== undefined) return { entry: toEntry(stored), duplicate: true };
    }
    const counter = counterOf(room);
    if (counter === null) return { refused: 'not_found' };
    const seq = ++counter.seq;
    counter.ts = e.ts;
    counter.appended = true;
    const entry = messageEntry(e, seq, { id: user.id, name: user.name, color: user.color });
    insertEntry.run(room, seq, null, user.id, user.name, user.color, entry.text ?? null, entry.gif ?? null, entry.width ?? null, entry.height ?? null, nonce ?? null, e.ts);
    return { entry, duplicate: false };
  };
  // IMMEDIATE: the batch takes the write lock before it reads, so a nonce lookup and the
  // counters never see a snapshot another connection has moved past.
  const appendAll = db.transaction((ops: readonly AppendOp[]): AppendResult[] => {
    counters.clear();
    const results: AppendResult[] = new Array(ops.length);
    for (let i = 0; i < ops.length; i++) results[i] = appendOne(ops[i]);
    for (const [room, counter] of counters) {
      // Each appended room's counter and last activity (its newest entry's time).
      if (counter?.appended) storeCounter.run(counter.seq, counter.ts, room);
    }
    counters.clear();
    return results;
  }).immediate;

  const deleteAll = db.transaction((id: string, idleBefore: number | undefined): DeletedRoom => {
    const lastActivity = selectActivity.get(id) as number | undefined;
    if (lastActivity === undefined || (idleBefore !== undefined && lastActivity >= idleBefore)) return { deleted: false, gifs: [] };
    const gifs = selectGifs.all(id) as string[];
    deleteEntries.run(id);
    deleteBans.run(id);
    deleteRoom.run(id);
    return { deleted: true, gifs };
  }).immediate;

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

  let closed = false;
  // The last append's storage failure (the disk is full…), until an append succeeds again: reads may still work.
  let writeFailure: { message: string; at: number } | undefined;
  const ping = db.prepare('SELECT 1').pluck();
  return {
    append: (ops) =>
      wrap('append', () => appendAll(ops)).then(
        (results) => {
          writeFailure = undefined;
          return results;
        },
        (err: unknown) => {
          if (err instanceof ChatError) writeFailure = { message: err.message, at: Date.now() };
          throw err;
        },
      ),
    usage: async () => {
      // The database file with its WAL and shared-memory index: three stats, no query.
      const sizes = await Promise.all(['', '-wal', '-shm'].map((suffix) => fs.promises.stat(file + suffix).then((st) => st.size, () => 0)));
      return sizes.reduce((a, b) => a + b, 0);
    },
    health: async () => {
      const health = await checkHealth('sqlite', () => wrap('health', () => void ping.get()));
      if (health.state !== 'up' || writeFailure === undefined) return health;
      const ago = Math.round((Date.now() - writeFailure.at) / 1000);
      return { ...health, state: 'degraded', detail: `reads work; the last write failed ${ago} s ago: ${writeFailure.message}` };
    },
    createRoom: (r: RoomRecord) =>
      wrap('createRoom', () => void insertRoom.run(r.id, r.title, r.max, r.passwordHash, r.owner.id, r.owner.name, r.owner.color, r.createdAt, r.createdAt)),
    room: (id) =>
      wrap('room', () => {
        const row = selectRoom.get(id) as RoomRow | undefined;
        return row && toRoom(row);
      }),
    rooms: () => wrap('rooms', () => (selectRooms.all() as RoomRow[]).map(toRoom)),
    roomsByActivity: (after, limit) =>
      wrap('roomsByActivity', () =>
        ((after ? selectActiveRoomsAfter.all(after.lastActivity, after.id, limit) : selectActiveRooms.all(limit)) as RoomRow[]).map(toRoom),
      ),
    deleteRoom: (id, idleBefore) => wrap('deleteRoom', () => deleteAll(id, idleBefore)),
    pruneEntries: (room, before, limit) =>
      wrap('pruneEntries', () => {
        const rows = pruneOld.all(room, room, limit, before) as { gif: string | null }[];
        return { deleted: rows.length, gifs: rows.map((r) => r.gif).filter((gif): gif is string => gif !== null) };
      }),
    idleRooms: (before) => wrap('idleRooms', () => selectIdle.all(before) as string[]),
    roomCount: () => wrap('roomCount', () => countRooms.get() as number),
    pruneBans: (now) => wrap('pruneBans', () => pruneBans.run(now).changes),
    renameOwner: (user) => wrap('renameOwner', () => renameOwner.all(user.name, user.color, user.id) as string[]),
    setOwnerAway: (room, since) => wrap('setOwnerAway', () => void setOwnerAway.run(since, room)),
    bannedUntil: (room, user, now, address) =>
      wrap('bannedUntil', () => {
        const byUser = banOf(room, user, now);
        const byAddress = address === undefined ? undefined : banOf(room, addressSubject(address), now);
        return byUser === undefined ? byAddress : byAddress === undefined ? byUser : Math.max(byUser, byAddress);
      }),
    banAddresses: (room, addresses, until) => wrap('banAddresses', () => (addresses.length > 0 ? banAddresses(room, addresses, until) : undefined)),
    ownedRoomCount: (owner) => wrap('ownedRoomCount', () => countOwned.get(owner) as number),
    entriesAfter: (room, since, limit) => wrap('entriesAfter', () => (selectAfter.all(room, since, limit) as EntryRow[]).map(toEntry)),
    entriesBefore: (room, before, limit) =>
      wrap('entriesBefore', () =>
        ((before === undefined ? selectLatest.all(room, limit) : selectBefore.all(room, before, limit)) as EntryRow[]).map(toEntry),
      ),
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
