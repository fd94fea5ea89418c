import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ChatError } from '../../src/protocol/errors';
import { openSqliteStore, SCHEMA_VERSION } from '../../src/store/sqlite-store';
import { AppendOp, AppendResult, Store } from '../../src/store/store';
import { FileGifStore } from '../../src/store/file-gif-store';
import { gifStoreContract } from './gif-store-contract';
import { storeContract } from './store-contract';
import { canMountTmpfs } from '../helpers/tmpfs';
import { tempDir } from './temp-dir';

gifStoreContract('file', async () => {
  const dir = path.join(tempDir(), 'uploads');
  return { gifs: new FileGifStore(dir), other: async () => new FileGifStore(dir) };
});

storeContract('sqlite', async () => {
  const file = path.join(tempDir(), 'nested', 'gif-chat.db');
  return { store: openSqliteStore(file), reopen: async () => openSqliteStore(file), second: async () => openSqliteStore(file) };
});

const owner = { id: 'u1', name: 'Ann', color: '#123456' };
const roomRecord = (id: string, createdAt = 1) => ({ id, title: id, max: 10, passwordHash: null, owner, createdAt });
const message = (room: string, text: string, ts = 1): AppendOp => ({ entry: { room, user: owner, text, ts } });
const seqOf = (result: AppendResult) => ('entry' in result ? result.entry.seq : result.refused);
const caught = (promise: Promise<unknown>) => promise.then(
  () => undefined,
  (err: unknown) => err,
);

describe('sqlite store: WAL checkpoints in a worker thread', () => {
  test('committed pages reach the database file without a commit checkpointing, and close removes the WAL', async () => {
    const file = path.join(tempDir(), 'wal.db');
    const store = openSqliteStore(file);
    await store.createRoom(roomRecord('r1'));
    const before = fs.statSync(file).size;
    for (let batch = 0; batch < 20; batch++) {
      await store.append(Array.from({ length: 100 }, () => message('r1', 'x'.repeat(200))));
    }
    // Commits never checkpoint (wal_autocheckpoint = 0): the pages reach the file only through the worker.
    const deadline = Date.now() + 5000;
    while (fs.statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fs.statSync(file).size).toBeGreaterThan(before + 200 * 1000);
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
    await store.close();
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const again = openSqliteStore(file);
    expect((await again.entriesAfter('r1', 0, 5000)).length).toBe(2000);
    await again.close();
  });

  test('writes that never pause still leave the WAL bounded: the checkpointer rewinds it past its limit', async () => {
    const file = path.join(tempDir(), 'busy.db');
    const walSizeLimit = 256 * 1024;
    const store = openSqliteStore(file, { checkpointIntervalMs: 20, walSizeLimit });
    const rooms = Array.from({ length: 20 }, (_, i) => `r${i}`);
    for (const id of rooms) await store.createRoom(roomRecord(id));
    let turns = 0;
    let largest = 0;
    const stopAt = Date.now() + 2000;
    // A commit touching several rooms every millisecond: a passive checkpoint is never caught up.
    while (Date.now() < stopAt) {
      await new Promise((r) => setTimeout(r, 1));
      turns++;
      await store.append(rooms.slice(turns % 4, (turns % 4) + 8).map((room) => message(room, 'x'.repeat(100))));
      if (turns % 20 === 0) largest = Math.max(largest, fs.statSync(`${file}-wal`).size);
    }
    // Tens of MB of WAL go through here; it stays within a few times the limit.
    expect(turns).toBeGreaterThan(500);
    expect(largest).toBeLessThan(16 * walSizeLimit);
    // r4 is in every batch.
    expect((await store.entriesAfter('r4', 0, 100_000)).length).toBe(turns);
    expect((await store.room('r4'))?.lastSeq).toBe(turns);
    await store.close();
  });

  test('an append while another connection holds the write lock waits without blocking the event loop', async () => {
    const file = path.join(tempDir(), 'locked.db');
    const store = openSqliteStore(file);
    await store.createRoom(roomRecord('r1'));
    // Another connection (as the checkpointer is while it rewinds the WAL) holds the write lock for 100 ms.
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const release = new Promise<void>((resolve) =>
      setTimeout(() => {
        other.exec('COMMIT');
        resolve();
      }, 100),
    );
    const started = Date.now();
    await store.append([message('r1', 'waited')]);
    clearInterval(ticker);
    await release;
    other.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    // Timers kept firing while the append waited: SQLite's busy handler did not hold the thread.
    expect(ticks).toBeGreaterThan(5);
    expect((await store.entriesAfter('r1', 0, 10)).map((e) => e.seq)).toEqual([1]);
    await store.close();
  });
});

describe('sqlite store: two connections on one file', () => {
  test('appends of both, retried while a third connection holds the lock, get seqs 1..N with no gap or duplicate', async () => {
    const file = path.join(tempDir(), 'shared.db');
    const a = openSqliteStore(file);
    const b = openSqliteStore(file);
    await a.createRoom(roomRecord('r'));
    const locker = new Database(file);
    locker.exec('BEGIN IMMEDIATE');
    // Every call below fails with SQLITE_BUSY first and retries on its own timer: they commit in whatever order the timers run.
    const pending: Promise<AppendResult[]>[] = [];
    for (let i = 0; i < 100; i++) pending.push((i % 3 === 0 ? b : a).append([message('r', `m${i}`), { entry: { room: 'r', user: owner, text: 'n', ts: 1, nonce: `n${i % 50}` } }]));
    await new Promise((r) => setTimeout(r, 50));
    locker.exec('COMMIT');
    locker.close();
    const results = (await Promise.all(pending)).flat();
    const fresh = results.filter((r) => 'duplicate' in r && !r.duplicate).map(seqOf) as number[];
    // 100 plain messages and 50 distinct nonces.
    expect(fresh.sort((x, y) => x - y)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(results.filter((r) => 'duplicate' in r && r.duplicate)).toHaveLength(50);
    expect((await b.entriesAfter('r', 0, 1000)).map((e) => e.seq)).toEqual(fresh);
    await a.close();
    await b.close();
  });
});

/** The schema of the code before migrations (git show 4de5766:src/store/sqlite-store.ts). */
const oldSchema = `
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

function schemaOf(file: string): { version: number; objects: unknown[] } {
  const db = new Database(file, { readonly: true });
  try {
    const objects = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all();
    return { version: db.pragma('user_version', { simple: true }) as number, objects };
  } finally {
    db.close();
  }
}

describe('sqlite store: schema migrations', () => {
  test('a database made by the code before migrations is upgraded in place, and gets the schema a new one has', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'old.db');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(oldSchema);
    const insertRoom = old.prepare('INSERT INTO rooms VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    insertRoom.run('r1', 'One', 10, null, owner.id, owner.name, owner.color, 1);
    insertRoom.run('r2', 'Two', 5, 'scrypt$x$y', owner.id, owner.name, owner.color, 2);
    const insertEntry = old.prepare('INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    insertEntry.run('r1', 1, 'joined', owner.id, owner.name, owner.color, null, null, null, 10);
    insertEntry.run('r1', 2, null, owner.id, owner.name, owner.color, 'hi', null, 'n1', 11);
    insertEntry.run('r1', 3, null, owner.id, owner.name, owner.color, null, '/gif/a.gif', null, 12);
    // The old index was not unique: a race could store a nonce twice. The first stays the original.
    insertEntry.run('r1', 4, null, owner.id, owner.name, owner.color, 'hi', null, 'n1', 13);
    old.prepare('INSERT INTO sessions VALUES (?, ?, ?)').run('s1', '{"a":1}', 1000);
    old.close();

    const store = openSqliteStore(file);
    expect(await store.rooms()).toEqual([
      { ...roomRecord('r1'), title: 'One', lastSeq: 4, lastActivity: 13, ownerAwaySince: null },
      { ...roomRecord('r2', 2), title: 'Two', max: 5, passwordHash: 'scrypt$x$y', lastSeq: 0, lastActivity: 2, ownerAwaySince: null },
    ]);
    expect(await store.getSession('s1', 0)).toBe('{"a":1}');
    const results = await store.append([
      message('r1', 'next', 20),
      { entry: { room: 'r1', user: owner, text: 'resent', ts: 21, nonce: 'n1' } },
      { entry: { room: 'r2', user: owner, text: 'first', ts: 22, nonce: 'n1' } },
      { entry: { room: 'r1', kind: 'kicked', user: { id: 'u2', name: 'Bo', color: '#000000' }, ts: 23 }, banUntil: 5000 },
    ]);
    expect(results).toEqual([
      { entry: { room: 'r1', seq: 5, user: owner, text: 'next', ts: 20 }, duplicate: false },
      { entry: { room: 'r1', seq: 2, user: owner, text: 'hi', ts: 11, nonce: 'n1' }, duplicate: true },
      { entry: { room: 'r2', seq: 1, user: owner, text: 'first', ts: 22, nonce: 'n1' }, duplicate: false },
      { entry: { room: 'r1', seq: 6, kind: 'kicked', user: { id: 'u2', name: 'Bo', color: '#000000' }, ts: 23 }, duplicate: false },
    ]);
    expect(await store.bannedUntil('r1', 'u2', 0)).toBe(5000);
    expect(await store.room('r1')).toMatchObject({ lastSeq: 6, lastActivity: 23 });
    expect(await store.deleteRoom('r1')).toEqual({ deleted: true, gifs: ['/gif/a.gif'] });
    await store.close();

    const fresh = path.join(dir, 'fresh.db');
    await openSqliteStore(fresh).close();
    const upgraded = schemaOf(file);
    expect(upgraded.version).toBe(SCHEMA_VERSION);
    expect(upgraded).toEqual(schemaOf(fresh));
    // The nonce index is now unique.
    const db = new Database(file);
    expect(() => db.prepare('INSERT INTO entries (room_id, seq, kind, user_id, user_name, user_color, text, gif, nonce, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run('r2', 9, null, owner.id, owner.name, owner.color, 'x', null, 'n1', 1)).toThrow(
      /UNIQUE/,
    );
    db.close();
    // Opening again changes nothing.
    const again = openSqliteStore(file);
    expect((await again.room('r2'))?.lastSeq).toBe(1);
    await again.close();
    expect(schemaOf(file)).toEqual(upgraded);
  });

  test('a database from a newer server is refused with a plain error', async () => {
    const file = path.join(tempDir(), 'newer.db');
    await openSqliteStore(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    let err: unknown;
    try {
      openSqliteStore(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ChatError);
    expect((err as Error).message).toMatch(/^store: open failed: .*newer/);
  });
});

describe('sqlite store: storage failures reach callers as ChatError unavailable, driver errors never', () => {
  const mounted: string[] = [];
  afterAll(() => {
    for (const dir of mounted.splice(0)) {
      try {
        execFileSync('umount', [dir], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const mountable = canMountTmpfs();
  (mountable ? test : test.skip)('a full disk: the batch is rolled back and rejects as unavailable; once there is room again, appends go on', async () => {
    const dir = fs.mkdtempSync('/tmp/gif-chat-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
    mounted.push(dir);
    const file = path.join(dir, 'gif-chat.db');
    const store = openSqliteStore(file);
    await store.createRoom(roomRecord('r'));
    // Something else fills the disk up to the last few hundred KB.
    const filler = path.join(dir, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024));
    let committed = 0;
    let err: unknown;
    for (let i = 0; i < 200 && err === undefined; i++) {
      const batch = Array.from({ length: 10 }, () => message('r', 'x'.repeat(10_000)));
      try {
        committed += (await store.append(batch)).length;
      } catch (e) {
        err = e;
      }
    }
    expect(err).toBeInstanceOf(ChatError);
    expect(err).toMatchObject({ code: 'unavailable', message: 'storage is unavailable: the disk is full' });
    // Nothing of the failed batch was written, and no seq went missing.
    expect(committed).toBeGreaterThan(0);
    expect((await store.room('r'))?.lastSeq).toBe(committed);
    expect((await store.entriesAfter('r', 0, 1000)).length).toBe(committed);
    fs.rmSync(filler);
    const [next] = await store.append([message('r', 'room again')]);
    expect(seqOf(next)).toBe(committed + 1);
    await store.close();
  });

  test('a database file that cannot be opened is unavailable', () => {
    const dir = tempDir(); // a folder where the file should be
    let err: unknown;
    try {
      openSqliteStore(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ChatError);
    expect(err).toMatchObject({ code: 'unavailable', message: 'storage is unavailable: the database file cannot be opened' });
  });

  test('a write lock held past the busy timeout rejects as unavailable, after waiting without blocking the event loop', async () => {
    const file = path.join(tempDir(), 'stuck.db');
    const store = openSqliteStore(file);
    await store.createRoom(roomRecord('r'));
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 50);
    const started = Date.now();
    const err = await caught(store.append([message('r', 'stuck')]));
    clearInterval(ticker);
    other.exec('ROLLBACK');
    other.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
    expect(ticks).toBeGreaterThan(50);
    expect(err).toBeInstanceOf(ChatError);
    expect(err).toMatchObject({ code: 'unavailable', message: 'storage is unavailable: the database stayed locked too long' });
    expect(seqOf((await store.append([message('r', 'free again')]))[0])).toBe(1);
    await store.close();
  }, 15_000);

  test('a bug (an op the store cannot take) is a plain Error, and the whole batch is rolled back', async () => {
    const file = path.join(tempDir(), 'bug.db');
    const store: Store = openSqliteStore(file);
    await store.createRoom(roomRecord('r'));
    const err = await caught(store.append([message('r', 'fine'), { ...message('r', 'bad'), ownerWas: owner.id }]));
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ChatError);
    expect((err as Error).message).toMatch(/^store: append failed: /);
    expect(await store.entriesAfter('r', 0, 10)).toEqual([]);
    expect((await store.room('r'))?.lastSeq).toBe(0);
    const dup = await caught(store.createRoom(roomRecord('r')));
    expect(dup).not.toBeInstanceOf(ChatError);
    expect((dup as Error).message).toMatch(/^store: createRoom failed: UNIQUE/);
    await store.close();
    // After close, calls fail as bugs, not as an unavailable storage.
    const closed = await caught(store.room('r'));
    expect(closed).toBeInstanceOf(Error);
    expect(closed).not.toBeInstanceOf(ChatError);
  });
});
