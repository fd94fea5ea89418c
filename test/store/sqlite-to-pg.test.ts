import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { hashPassword, verifyPassword } from '../../src/chat/password';
import { silentLogger } from '../../src/logger';
import { FileGifStore } from '../../src/store/file-gif-store';
import { PG_SCHEMA_VERSION } from '../../src/store/migrations';
import { openPgStore } from '../../src/store/pg-store';
import { openSqliteStore, SCHEMA_VERSION } from '../../src/store/sqlite-store';
import { copySqliteToPostgres, CopyError, CopyOptions, Progress } from '../../src/store/sqlite-to-pg';
import { Store } from '../../src/store/store';
import { makeGif } from '../helpers/gif';
import { PostgresServer, startPostgres } from '../helpers/services';
import { tempDir } from './temp-dir';

// One throwaway PostgreSQL for the whole file; each test copies into a database of its own.
let pg: PostgresServer;
/** Every store a test opened: closed at the end even when a test failed half-way. */
const opened: Store[] = [];
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const store of opened) await store.close().catch(() => {});
  await pg?.stop();
}, 30_000);

const freshDatabase = () => pg.createDatabase('m');

const openPg = async (url: string) => {
  const store = await openPgStore(url, { logger: silentLogger });
  opened.push(store);
  return store;
};
const openSqlite = (file: string) => {
  const store = openSqliteStore(file);
  opened.push(store);
  return store;
};

/** Runs SQL as `chat` on the database at `url`. */
async function query<R extends object = Record<string, unknown>>(url: string, sql: string): Promise<R[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** How many rows the copied tables hold in the target. */
async function targetCounts(url: string) {
  const [row] = await query<Record<string, number>>(
    url,
    `SELECT (SELECT count(*) FROM rooms)::int AS rooms, (SELECT count(*) FROM entries)::int AS entries,
      (SELECT count(*) FROM bans)::int AS bans, (SELECT count(*) FROM gifs)::int AS gifs, (SELECT count(*) FROM session)::int AS sessions`,
  );
  return row;
}
const EMPTY = { rooms: 0, entries: 0, bans: 0, gifs: 0, sessions: 0 };

const caught = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  );
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

const T0 = 1_700_000_000_000;
const FAR = 4_000_000_000_000;
const alice = { id: 'u_alice', name: 'Alice', color: '#c0392b' };
const bob = { id: 'u_bob', name: 'Bob', color: '#2980b9' };
const carol = { id: 'u_carol', name: 'Carol', color: '#27ae60' };
const MISSING_GIF = `/gif/${'M'.repeat(22)}.gif`;

/** A SQLite deployment as the server leaves it: DATA_DIR with gif-chat.db and uploads/. */
interface Deployment {
  dataDir: string;
  file: string;
  uploads: string;
  gifUrl: string;
  strayUrl: string;
  liveSid: string;
  liveExpires: number;
}

/**
 * Made through the stores' own APIs: two rooms created in the same millisecond (creation
 * order is SQLite's rowid), a locked one, an empty one; messages with nonces (one nonce
 * used by two users), a GIF, a GIF whose file is missing, system entries (joined, a kick
 * with its ban, an owner hand-over), an owner away; a live and an expired session; a
 * GIF file no entry refers to. Closed when made (as a stopped server leaves it).
 */
async function makeDeployment(): Promise<Deployment> {
  const dataDir = tempDir();
  const file = path.join(dataDir, 'gif-chat.db');
  const uploads = path.join(dataDir, 'uploads');
  const gifs = new FileGifStore(uploads);
  const gifUrl = await gifs.save(makeGif(96));
  const strayUrl = await gifs.save(makeGif(40));
  const store = openSqliteStore(file);
  await store.createRoom({ id: 'r_zeta', title: 'Zeta', max: 10, passwordHash: null, owner: alice, createdAt: T0 });
  await store.createRoom({ id: 'r_alpha', title: 'Alpha (locked)', max: 3, passwordHash: await hashPassword('sesame'), owner: bob, createdAt: T0 });
  await store.createRoom({ id: 'r_empty', title: 'Nobody here', max: 50, passwordHash: null, owner: carol, createdAt: T0 + 5 });
  const results = await store.append([
    { entry: { room: 'r_zeta', user: alice, kind: 'joined', ts: T0 + 10 } },
    { entry: { room: 'r_zeta', user: alice, text: 'hello', nonce: 'n-1', ts: T0 + 11 } },
    { entry: { room: 'r_zeta', user: bob, kind: 'joined', ts: T0 + 12 } },
    { entry: { room: 'r_zeta', user: bob, gif: gifUrl, width: 96, height: 96, nonce: 'n-1', ts: T0 + 13 } },
    { entry: { room: 'r_zeta', user: alice, text: 'look', gif: MISSING_GIF, nonce: 'n-2', ts: T0 + 14 } },
    { entry: { room: 'r_zeta', user: bob, kind: 'kicked', ts: T0 + 15 }, banUntil: FAR },
    { entry: { room: 'r_alpha', user: bob, kind: 'joined', ts: T0 + 20 } },
    { entry: { room: 'r_alpha', user: bob, text: 'secret 1', nonce: 'a-1', ts: T0 + 21 } },
    { entry: { room: 'r_alpha', user: bob, text: 'secret 2 ✓ ünïcödé 🎉', nonce: 'a-2', ts: T0 + 22 } },
    { entry: { room: 'r_alpha', user: carol, kind: 'kicked', ts: T0 + 23 }, banUntil: T0 + 30 }, // a ban that has ended
    { entry: { room: 'r_alpha', user: alice, kind: 'owner', ts: T0 + 24 }, ownerWas: bob.id },
  ]);
  expect(results.every((r) => 'entry' in r && !r.duplicate)).toBe(true);
  await store.setOwnerAway('r_zeta', T0 + 16);
  const liveExpires = Date.now() + 86_400_000;
  const liveSid = 'sid-live';
  await store.setSession(liveSid, JSON.stringify({ cookie: { expires: new Date(liveExpires).toISOString() }, user: alice }), liveExpires);
  await store.setSession('sid-expired', JSON.stringify({ user: bob }), Date.now() - 1000);
  await store.close();
  return { dataDir, file, uploads, gifUrl, strayUrl, liveSid, liveExpires };
}

const ENTRIES = 11;
const copy = (d: Deployment, url: string, more: Partial<CopyOptions> = {}) =>
  copySqliteToPostgres({ sqliteFile: d.file, uploadsDir: d.uploads, databaseUrl: url, ...more });

/** The target holds exactly what the SQLite store holds, read through both stores' APIs. */
async function expectSameData(d: Deployment, target: Store): Promise<void> {
  const source = openSqlite(d.file);
  const rooms = await source.rooms();
  expect(rooms.map((r) => r.id)).toEqual(['r_zeta', 'r_alpha', 'r_empty']);
  expect(await target.rooms()).toEqual(rooms);
  for (const room of rooms) {
    expect(await target.room(room.id)).toEqual(room);
    expect(await target.entriesAfter(room.id, 0, 1000)).toEqual(await source.entriesAfter(room.id, 0, 1000));
    expect(await target.entriesBefore(room.id, undefined, 2)).toEqual(await source.entriesBefore(room.id, undefined, 2));
  }
  expect(await target.bannedUntil('r_zeta', bob.id, T0 + 100)).toBe(FAR);
  expect(await target.bannedUntil('r_alpha', carol.id, T0 + 25)).toBe(T0 + 30);
  expect(await target.getSession(d.liveSid, Date.now())).toBe(await source.getSession(d.liveSid, Date.now()));
  await source.close();
}

describe('migrate-to-postgres: the copy', () => {
  test('rooms, entries, bans, live sessions and GIFs arrive unchanged, in batches; the PostgreSQL store carries on from them', async () => {
    const d = await makeDeployment();
    const before = sha256(d.file);
    const { url } = freshDatabase();
    const events: Progress[] = [];
    const report = await copy(d, url, { batchSize: 2, onProgress: (p) => void events.push(p) });

    expect(report).toMatchObject({
      source: { file: d.file, uploadsDir: d.uploads, schemaVersion: SCHEMA_VERSION, upgraded: false },
      pgMigrationsApplied: Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1),
      replaced: { rooms: 0, entries: 0, bans: 0, gifs: 0 },
      rooms: 3,
      entries: ENTRIES,
      bans: 2,
      sessions: 1,
      expiredSessions: 1,
      gifs: 2,
      otherFiles: 0,
      nulReplaced: 0,
      verifiedRooms: 3,
    });
    expect(report.missingGifs).toEqual({ count: 1, first: [{ url: MISSING_GIF, room: 'r_zeta', seq: 5, uses: 1 }] });
    // Batches of 2: rows reach PostgreSQL a few at a time.
    expect(events.filter((e) => e.phase === 'entries').map((e) => e.done)).toEqual([2, 4, 6, 8, 10, 11]);
    expect(events.filter((e) => e.phase === 'gifs').map((e) => e.done)).toEqual([2]);
    // Read-only: the SQLite file is byte for byte what it was.
    expect(sha256(d.file)).toBe(before);

    const target = await openPg(url);
    await expectSameData(d, target);
    const alpha = await target.room('r_alpha');
    expect(await verifyPassword('sesame', alpha!.passwordHash!)).toBe(true);
    expect(alpha!.owner).toEqual(alice);
    expect((await target.room('r_zeta'))!.ownerAwaySince).toBe(T0 + 16);
    // Sessions: the expiry moved to a timestamp keeps its millisecond; the expired one stayed behind.
    expect(await target.getSession(d.liveSid, d.liveExpires - 1)).toBeDefined();
    expect(await target.getSession(d.liveSid, d.liveExpires)).toBeUndefined();
    expect(await target.getSession('sid-expired', 0)).toBeUndefined();
    // The GIFs' bytes under the same names as the files (the entries keep their /gif/<name> URLs).
    const gifs = await query<{ name: string; bytes: Buffer; created_at: string }>(url, 'SELECT name, bytes, created_at FROM gifs ORDER BY name');
    const files = fs.readdirSync(d.uploads).sort();
    expect(gifs.map((g) => g.name)).toEqual(files);
    expect(files.map((f) => `/gif/${f}`).sort()).toEqual([d.gifUrl, d.strayUrl].sort());
    for (const g of gifs) {
      expect(g.bytes.equals(fs.readFileSync(path.join(d.uploads, g.name)))).toBe(true);
      expect(Number(g.created_at)).toBe(Math.floor(fs.statSync(path.join(d.uploads, g.name)).mtimeMs));
    }
    expect(report.gifBytes).toBe(gifs.reduce((n, g) => n + g.bytes.length, 0));

    // Nonces: a resend after the move is the stored original; a new entry takes last_seq + 1.
    const resent = await target.append([{ entry: { room: 'r_zeta', user: bob, gif: d.gifUrl, nonce: 'n-1', ts: Date.now() } }]);
    expect(resent).toEqual([{ entry: (await target.entriesAfter('r_zeta', 3, 1))[0], duplicate: true }]);
    expect(resent[0]).toMatchObject({ entry: { seq: 4, user: bob, width: 96, height: 96, nonce: 'n-1' } });
    const [fresh] = await target.append([{ entry: { room: 'r_alpha', user: alice, text: 'after the move', nonce: 'a-3', ts: T0 + 99 } }]);
    expect(fresh).toMatchObject({ entry: { seq: 6 }, duplicate: false });
    expect(await target.room('r_alpha')).toMatchObject({ lastSeq: 6, lastActivity: T0 + 99 });
    const [first] = await target.append([{ entry: { room: 'r_empty', user: carol, kind: 'joined', ts: T0 + 100 } }]);
    expect(first).toMatchObject({ entry: { seq: 1 } });
  });

  test('an older SQLite schema is upgraded in a copy by the SQLite store’s migrations; the file itself stays as it was', async () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'gif-chat.db');
    // A database from before versioning (user_version 0): no counters on rooms, no bans, nonces not unique.
    const old = new Database(file);
    old.exec(`
      CREATE TABLE rooms (id TEXT PRIMARY KEY, title TEXT NOT NULL, max INTEGER NOT NULL, password_hash TEXT,
        owner_id TEXT NOT NULL, owner_name TEXT NOT NULL, owner_color TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE entries (room_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT, user_id TEXT NOT NULL, user_name TEXT NOT NULL,
        user_color TEXT NOT NULL, text TEXT, gif TEXT, nonce TEXT, ts INTEGER NOT NULL, PRIMARY KEY (room_id, seq)) WITHOUT ROWID;
      CREATE INDEX entries_nonce ON entries (room_id, user_id, nonce) WHERE nonce IS NOT NULL;
      CREATE TABLE sessions (sid TEXT PRIMARY KEY, json TEXT NOT NULL, expires INTEGER NOT NULL);
      INSERT INTO rooms VALUES ('r_old', 'Old', 10, NULL, 'u_alice', 'Alice', '#c0392b', ${T0}), ('r_quiet', 'Quiet', 5, NULL, 'u_bob', 'Bob', '#2980b9', ${T0 + 1});
      INSERT INTO entries VALUES
        ('r_old', 1, NULL, 'u_alice', 'Alice', '#c0392b', 'one', NULL, 'dup', ${T0 + 10}),
        ('r_old', 2, NULL, 'u_alice', 'Alice', '#c0392b', 'one again', NULL, 'dup', ${T0 + 11}),
        ('r_old', 3, 'left', 'u_alice', 'Alice', '#c0392b', NULL, NULL, NULL, ${T0 + 12});
      INSERT INTO sessions VALUES ('sid-old', '{"user":{"id":"u_alice"}}', ${FAR});
    `);
    old.close();
    const before = sha256(file);
    const { url } = freshDatabase();
    const report = await copySqliteToPostgres({ sqliteFile: file, uploadsDir: path.join(dataDir, 'uploads'), databaseUrl: url });
    expect(report).toMatchObject({ source: { schemaVersion: 0, upgraded: true }, rooms: 2, entries: 3, bans: 0, sessions: 1, gifs: 0, verifiedRooms: 2 });
    expect(sha256(file)).toBe(before);
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(0);
    check.close();

    const target = await openPg(url);
    // Migration 2 of the SQLite store: the counter and last activity from the log; the second use of a nonce loses it.
    expect(await target.room('r_old')).toMatchObject({ lastSeq: 3, lastActivity: T0 + 12, ownerAwaySince: null });
    expect(await target.room('r_quiet')).toMatchObject({ lastSeq: 0, lastActivity: T0 + 1 });
    expect((await target.entriesAfter('r_old', 0, 10)).map((e) => ('nonce' in e ? e.nonce : null))).toEqual(['dup', null, null]);
    expect(await target.getSession('sid-old', Date.now())).toBe('{"user":{"id":"u_alice"}}');
    const [next] = await target.append([{ entry: { room: 'r_old', user: alice, text: 'back', nonce: 'dup', ts: T0 + 20 } }]);
    expect(next).toMatchObject({ duplicate: true, entry: { seq: 1, text: 'one' } });
  });

  test('U+0000, which PostgreSQL text cannot store, arrives as U+FFFD and is counted', async () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'gif-chat.db');
    const store = openSqliteStore(file);
    await store.createRoom({ id: 'r_nul', title: 'nul\0title', max: 10, passwordHash: null, owner: alice, createdAt: T0 });
    await store.append([{ entry: { room: 'r_nul', user: { ...bob, name: 'B\0b' }, text: 'a\0b\0c', nonce: 'x\0', ts: T0 + 1 } }]);
    await store.close();
    const { url } = freshDatabase();
    const report = await copySqliteToPostgres({ sqliteFile: file, uploadsDir: path.join(dataDir, 'uploads'), databaseUrl: url });
    expect(report).toMatchObject({ rooms: 1, entries: 1, nulReplaced: 4, verifiedRooms: 1 });
    const target = await openPg(url);
    expect((await target.room('r_nul'))!.title).toBe('nul\uFFFDtitle');
    expect(await target.entriesAfter('r_nul', 0, 10)).toEqual([
      { room: 'r_nul', seq: 1, user: { ...bob, name: 'B\uFFFDb' }, ts: T0 + 1, text: 'a\uFFFDb\uFFFDc', nonce: 'x\uFFFD' },
    ]);
  });
});

describe('migrate-to-postgres: refusals and failures write nothing', () => {
  test('a target holding rooms or entries is refused; --force replaces its rooms, entries, bans and GIFs', async () => {
    const d = await makeDeployment();
    const { url } = freshDatabase();
    const other = await openPg(url);
    await other.createRoom({ id: 'r_other', title: 'Other', max: 10, passwordHash: null, owner: carol, createdAt: T0 });
    await other.append([{ entry: { room: 'r_other', user: carol, text: 'mine', ts: T0 + 1 } }]);
    await other.setSession('sid-pg', '{"user":"pg"}', FAR);
    await other.close();

    const err = await caught(copy(d, url));
    expect(err).toBeInstanceOf(CopyError);
    expect((err as Error).message).toBe('the target database already holds 1 rooms, 1 entries, 0 bans and 0 GIFs: nothing was copied (--force replaces them)');
    expect(await targetCounts(url)).toEqual({ rooms: 1, entries: 1, bans: 0, gifs: 0, sessions: 1 });

    const report = await copy(d, url, { force: true });
    expect(report).toMatchObject({ replaced: { rooms: 1, entries: 1, bans: 0, gifs: 0 }, rooms: 3, entries: ENTRIES, verifiedRooms: 3 });
    const target = await openPg(url);
    expect(await target.room('r_other')).toBeUndefined();
    await expectSameData(d, target);
    // Sessions are not replaced: the target's own stay beside the copied ones.
    expect(await target.getSession('sid-pg', Date.now())).toBe('{"user":"pg"}');
    expect(await targetCounts(url)).toEqual({ rooms: 3, entries: ENTRIES, bans: 2, gifs: 2, sessions: 2 });
  });

  test('a GIF file that cannot be read fails the copy after rooms and entries were written: the target holds none of it', async () => {
    const d = await makeDeployment();
    // A directory under a stored GIF's name: reading it fails (EISDIR), as root too.
    const unreadable = path.join(d.uploads, `${'U'.repeat(22)}.gif`);
    fs.mkdirSync(unreadable);
    const { url } = freshDatabase();
    const events: Progress[] = [];
    const err = await caught(copy(d, url, { batchSize: 1, onProgress: (p) => void events.push(p) }));
    expect(err).toBeInstanceOf(CopyError);
    expect((err as Error).message).toMatch(/^cannot read the GIF file .*\/uploads\/U{22}\.gif: EISDIR/);
    expect(events.filter((e) => e.phase === 'entries')).toHaveLength(ENTRIES);
    expect(await targetCounts(url)).toEqual(EMPTY);
  });

  test('the PostgreSQL connection killed half-way through the entries: the copy fails and the target holds none of it', async () => {
    const d = await makeDeployment();
    const { url, name } = freshDatabase();
    let killed = 0;
    const err = await caught(
      copy(d, url, {
        batchSize: 3,
        onProgress: (p) => {
          if (p.phase === 'entries' && p.done === 6) {
            killed = Number(pg.admin(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${name}' AND application_name = 'gif-chat-migrate'`));
          }
        },
      }),
    );
    expect(killed).toBe(1);
    expect(err).toBeInstanceOf(CopyError);
    expect((err as Error).message).toMatch(/^copying entries: .*terminat/i);
    expect(await targetCounts(url)).toEqual(EMPTY);
    // And a second run copies everything.
    expect(await copy(d, url)).toMatchObject({ rooms: 3, entries: ENTRIES, verifiedRooms: 3 });
  });

  test('an entry lost on the way fails the verification: the target holds none of it', async () => {
    const d = await makeDeployment();
    const { url } = freshDatabase();
    await (await openPg(url)).close(); // the schema, so that a trigger can sit on entries
    // A real loss on the PostgreSQL side: a trigger that silently skips one row.
    await query(
      url,
      `CREATE FUNCTION lose_one() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.room_id = 'r_zeta' AND NEW.seq = 3 THEN RETURN NULL; END IF; RETURN NEW; END $$;
       CREATE TRIGGER lose_one BEFORE INSERT ON entries FOR EACH ROW EXECUTE FUNCTION lose_one();`,
    );
    const err = await caught(copy(d, url));
    expect(err).toBeInstanceOf(CopyError);
    expect((err as Error).message).toBe(
      'verification failed: room r_zeta has 6 entries, highest seq 6, last_seq 6 in SQLite but 5 entries, highest seq 6, last_seq 6 in PostgreSQL',
    );
    expect(await targetCounts(url)).toEqual(EMPTY);
  });

  test('a SQLite file of a newer schema, or none at all, is refused before anything is written', async () => {
    const d = await makeDeployment();
    const newer = new Database(d.file);
    newer.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    newer.close();
    const { url } = freshDatabase();
    const err = await caught(copy(d, url));
    expect(err).toBeInstanceOf(CopyError);
    expect((err as Error).message).toMatch(/^the SQLite database's schema \(version \d+\) is newer than this code's/);

    const empty = tempDir();
    const missing = path.join(empty, 'gif-chat.db');
    const none = await caught(copySqliteToPostgres({ sqliteFile: missing, uploadsDir: path.join(empty, 'uploads'), databaseUrl: url }));
    expect((none as Error).message).toBe(`no SQLite database at ${missing} (set DATA_DIR to the folder holding gif-chat.db)`);
    expect(fs.readdirSync(empty)).toEqual([]);
    // Not even the schema: PostgreSQL was not touched.
    expect(await query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// The command

const root = path.resolve(__dirname, '../..');

/** The node arguments of `npm run migrate-to-postgres` (package.json), after its build step. */
function cliArgs(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const script = pkg.scripts['migrate-to-postgres'];
  expect(script).toMatch(/^npm run build && node /);
  return script.replace(/^npm run build && node /, '').split(/\s+/).map((arg) => path.join(root, arg));
}

/** Runs the command (built by jest's global setup) with only this environment, in an empty folder (no .env). */
function runCli(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliArgs(), ...args], { cwd: tempDir(), env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('migrate-to-postgres: the command', () => {
  test('without DATABASE_URL: exit 1 and one line naming the variable, nothing read', async () => {
    const d = await makeDeployment();
    const before = fs.readdirSync(d.dataDir).sort();
    const result = await runCli({ DATA_DIR: d.dataDir });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'migrate-to-postgres: failed: DATABASE_URL is not set: set it to the PostgreSQL database to copy into, like postgres://user:pass@host:5432/db\n',
    );
    expect(fs.readdirSync(d.dataDir).sort()).toEqual(before);
  });

  test('end to end as `npm run migrate-to-postgres` runs it: exit 0 with counts and verification; again: refused, exit 1; with --force: replaced', async () => {
    const d = await makeDeployment();
    const { url } = freshDatabase();
    const env = { DATA_DIR: d.dataDir, DATABASE_URL: url };
    const result = await runCli(env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`migrate-to-postgres: from ${d.file} and ${d.uploads} to ${url.replace(':chat@', ':***@')}`);
    expect(result.stdout).toMatch(/^ {2}entries: \d+ so far$/m);
    expect(result.stdout).toMatch(new RegExp(`^PostgreSQL migrations applied: ${Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1).join(', ')}$`, 'm'));
    expect(result.stdout).toMatch(/^copied: 3 rooms, 11 entries, 2 bans, 1 sessions \(1 expired, left behind\), 2 GIFs \(\d+ bytes, 0\.0 MiB\)$/m);
    expect(result.stdout).toMatch(/^verified: 3 rooms with the same entry count, highest seq and last_seq on both sides;/m);
    expect(result.stdout).toContain(`warning: 1 GIFs referred to by entries are not in ${d.uploads}`);
    expect(result.stdout).toContain(`  ${MISSING_GIF}: first in room r_zeta at seq 5, 1 entries`);
    expect(lines[lines.length - 1]).toMatch(/^migrate-to-postgres: done\./);
    await expectSameData(d, await openPg(url));

    const again = await runCli(env);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      'migrate-to-postgres: failed: the target database already holds 3 rooms, 11 entries, 2 bans and 2 GIFs: nothing was copied (--force replaces them)\n',
    );

    const forced = await runCli(env, ['--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('replaced (--force): 3 rooms, 11 entries, 2 bans, 2 GIFs were removed from the target first');
    expect(await targetCounts(url)).toEqual({ rooms: 3, entries: ENTRIES, bans: 2, gifs: 2, sessions: 1 });
  });
});
