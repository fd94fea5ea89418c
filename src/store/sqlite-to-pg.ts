import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { GIF_URL_PREFIX, isGifName } from './gif-store';
import { migratePostgres } from './migrations';
import { ENTRY_COLUMNS, EntryRow, ROOM_COLUMNS, RoomRow } from './rows';
import { openSqliteStore, SCHEMA_VERSION } from './sqlite-store';

/**
 * Copies a SQLite deployment (its database file and its uploads folder) into a PostgreSQL
 * database: rooms, entries, kick bans, unexpired HTTP sessions and GIF files, unchanged
 * (`npm run migrate-to-postgres`, src/migrate-to-postgres.ts).
 *
 * - The SQLite file is opened read-only and read in one read transaction: one consistent
 *   snapshot. A file of an older schema is first copied (SQLite's backup) and the copy is
 *   upgraded by the SQLite store's own migrations; the file itself is never written.
 * - PostgreSQL: the server's migrations first (as a server does when it starts), then the
 *   whole copy, with its checks, in ONE transaction: on any failure nothing is written.
 * - Bounded memory: rows and GIF files are read and written in batches.
 * - The target must hold no rooms, entries, bans or GIFs (sessions may be there already:
 *   opening a page makes one), unless `force` replaces them.
 * - At the end, before committing: for every room, the entry count, highest seq and
 *   `last_seq` are compared on both sides, as are the totals.
 */

/** What to copy, from where to where. */
export interface CopyOptions {
  /** The SQLite database: DATA_DIR/gif-chat.db. */
  sqliteFile: string;
  /** The GIF files: DATA_DIR/uploads (a missing folder is an empty one). */
  uploadsDir: string;
  /** postgres://user:pass@host:5432/db */
  databaseUrl: string;
  /** Replace the rooms, entries, bans and GIFs the target holds (its sessions are kept; copied ones replace theirs). */
  force?: boolean;
  /** Most rows per batch (default 1000). */
  batchSize?: number;
  /** Most GIF bytes per batch (default 16 MiB; a bigger file goes alone). Entry batches stop at the same number of bytes of text. */
  batchBytes?: number;
  /** Sessions expiring at or before this time (ms since epoch) are not copied (default: now). */
  now?: number;
  /** Called after each batch is written (awaited). */
  onProgress?: (progress: Progress) => void | Promise<void>;
}

export type Phase = 'rooms' | 'entries' | 'bans' | 'sessions' | 'gifs';

/** How far a phase has come: rows (or files) written so far, and GIF bytes. */
export interface Progress {
  phase: Phase;
  done: number;
  bytes: number;
}

/** A GIF an entry refers to whose file was not in the uploads folder. */
export interface MissingGif {
  url: string;
  /** The first entry referring to it. */
  room: string;
  seq: number;
  /** How many entries refer to it. */
  uses: number;
}

/** What was copied and checked. */
export interface CopyReport {
  source: {
    file: string;
    uploadsDir: string;
    /** The file's schema version (PRAGMA user_version). */
    schemaVersion: number;
    /** True when the file was of an older schema: a copy of it was upgraded and read. */
    upgraded: boolean;
  };
  /** PostgreSQL migrations this run applied (none when the schema was up to date). */
  pgMigrationsApplied: number[];
  /** What `force` removed from the target first (all 0 without force). */
  replaced: { rooms: number; entries: number; bans: number; gifs: number };
  rooms: number;
  entries: number;
  bans: number;
  sessions: number;
  /** Sessions left behind because they had expired. */
  expiredSessions: number;
  gifs: number;
  gifBytes: number;
  /** Files in the uploads folder that are not stored GIFs (temp files, strays): not copied. */
  otherFiles: number;
  /** GIFs referred to by entries but not found in the uploads folder (distinct URLs). */
  missingGifs: { count: number; first: MissingGif[] };
  /** Strings holding U+0000 (PostgreSQL text cannot store it; older servers let it through): stored with U+FFFD instead. */
  nulReplaced: number;
  /** Rooms whose entry count, highest seq and last_seq were found equal on both sides (every room). */
  verifiedRooms: number;
}

/** A failure with a message meant for the operator (no stack needed). */
export class CopyError extends Error {
  override name = 'CopyError';
}

const DEFAULT_BATCH_SIZE = 1000;
const DEFAULT_BATCH_BYTES = 16 * 1024 * 1024;
/** How long to wait for the target's tables: a server running on the target holds them. */
const LOCK_TIMEOUT = '10s';
const CONNECT_TIMEOUT_MS = 10_000;
/** How many missing GIFs the report names. */
const MISSING_LISTED = 10;

/** A readable reason for any error (Node's AggregateError for a refused connection has an empty message). */
export function reasonOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return reasonOf(err.errors[0]);
  const e = err as { message?: unknown; code?: unknown } | null;
  if (typeof e?.message === 'string' && e.message !== '') return e.message;
  if (typeof e?.code === 'string') return e.code;
  return String(err);
}

/** The URL with its password masked, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** Runs one phase, naming it in the error should it fail. */
async function phase<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof CopyError) throw err;
    throw new CopyError(`${what}: ${reasonOf(err)}`);
  }
}

// ---------------------------------------------------------------------------------------
// The source

interface Source {
  db: Database.Database;
  schemaVersion: number;
  upgraded: boolean;
  close(): void;
}

function openReadOnly(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true });
}

/**
 * Opens the SQLite file read-only. A file of an older schema is copied (the backup API: a
 * consistent snapshot, pages and rowids as they are) into a temp folder, the copy upgraded
 * by the SQLite store's migrations, and the copy read instead.
 */
async function openSource(file: string): Promise<Source> {
  if (!fs.existsSync(file)) throw new CopyError(`no SQLite database at ${file} (set DATA_DIR to the folder holding gif-chat.db)`);
  let db: Database.Database;
  try {
    db = openReadOnly(file);
  } catch (err) {
    throw new CopyError(`cannot open the SQLite database ${file}: ${reasonOf(err)}`);
  }
  let temp: string | undefined;
  try {
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    if (schemaVersion > SCHEMA_VERSION) {
      throw new CopyError(`the SQLite database's schema (version ${schemaVersion}) is newer than this code's (${SCHEMA_VERSION}): run the tool of the release that wrote it`);
    }
    let upgraded = false;
    if (schemaVersion < SCHEMA_VERSION) {
      temp = fs.mkdtempSync(path.join(os.tmpdir(), 'gif-chat-migrate-'));
      const copy = path.join(temp, 'gif-chat.db');
      await db.backup(copy);
      db.close();
      // The SQLite store's own migrations, on the copy (opening it upgrades it).
      await openSqliteStore(copy).close();
      db = openReadOnly(copy);
      upgraded = true;
    }
    const opened = db;
    const dir = temp;
    return {
      db: opened,
      schemaVersion,
      upgraded,
      close: () => {
        if (opened.open) opened.close();
        if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (db.open) db.close();
    if (temp !== undefined) fs.rmSync(temp, { recursive: true, force: true });
    if (err instanceof CopyError) throw err;
    throw new CopyError(`reading the SQLite database ${file}: ${reasonOf(err)}`);
  }
}

/**
 * Reads a table in key order, one batch at a time: each call returns the rows after the
 * last one returned (keyset paging: `keys` are the SQL of the ordering columns, `keyOf`
 * their values in a row), at most `size` rows and, past the first row, about `bytes` bytes
 * by `weigh`. The statement is stepped, never read whole, and reset at the end of a batch.
 */
function pager<R>(
  db: Database.Database,
  select: string,
  where: string | undefined,
  keys: string[],
  keyOf: (row: R) => unknown[],
  size: number,
  bytes = Infinity,
  weigh: (row: R) => number = () => 0,
): () => R[] {
  const order = keys.join(', ');
  const first = db.prepare(`${select} ${where === undefined ? '' : `WHERE ${where}`} ORDER BY ${order}`);
  const later = db.prepare(
    `${select} WHERE ${where === undefined ? '' : `${where} AND `}(${order}) > (${keys.map(() => '?').join(', ')}) ORDER BY ${order}`,
  );
  let after: unknown[] | undefined;
  return () => {
    const rows: R[] = [];
    let total = 0;
    const iterator = (after === undefined ? first.iterate() : later.iterate(...after)) as IterableIterator<R>;
    for (const row of iterator) {
      rows.push(row);
      total += weigh(row);
      if (rows.length >= size || total >= bytes) break; // ends the iteration: the statement is reset
    }
    if (rows.length > 0) after = keyOf(rows[rows.length - 1]);
    return rows;
  };
}

// ---------------------------------------------------------------------------------------
// Rows

/** A room row with SQLite's rowid: rooms are copied in creation order. */
type RoomSource = RoomRow & { rid: number };

const pgSql = {
  /** In creation order (SQLite's rowid), so `created_order` keeps rooms created in the same millisecond in order. */
  insertRooms: `INSERT INTO rooms (${ROOM_COLUMNS})
    SELECT ${ROOM_COLUMNS} FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::text[], $7::text[],
      $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[]) WITH ORDINALITY AS r(${ROOM_COLUMNS}, ord)
    ORDER BY ord`,
  insertEntries: `INSERT INTO entries (${ENTRY_COLUMNS})
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::integer[], $10::integer[], $11::text[], $12::bigint[])`,
  insertBans: 'INSERT INTO bans (room_id, user_id, until) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])',
  /** As migration 2 carried sessions over (and as connect-pg-simple and the store write them). */
  upsertSessions: `INSERT INTO session (sid, sess, expire)
    SELECT sid, json::json, to_timestamp(expires / 1000.0)::timestamp FROM unnest($1::text[], $2::text[], $3::bigint[]) AS s(sid, json, expires)
    ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
  /** Distinct GIF URLs no stored GIF answers, with their first use. */
  missingGifs: `SELECT gif AS url, count(*) AS uses, (array_agg(room_id ORDER BY room_id, seq))[1] AS room,
      (array_agg(seq ORDER BY room_id, seq))[1] AS seq, count(*) OVER () AS total
    FROM entries e
    WHERE gif IS NOT NULL AND NOT (left(gif, ${GIF_URL_PREFIX.length}) = '${GIF_URL_PREFIX}'
      AND EXISTS (SELECT 1 FROM gifs g WHERE g.name = substr(e.gif, ${GIF_URL_PREFIX.length + 1})))
    GROUP BY gif ORDER BY gif LIMIT ${MISSING_LISTED}`,
  roomChecks: `SELECT r.id, r.last_seq::float8 AS last_seq,
      (SELECT count(*) FROM entries e WHERE e.room_id = r.id)::float8 AS n,
      (SELECT max(seq) FROM entries e WHERE e.room_id = r.id)::float8 AS max_seq
    FROM rooms r WHERE r.id = ANY($1::text[])`,
  totals: `SELECT (SELECT count(*) FROM rooms)::float8 AS rooms, (SELECT count(*) FROM entries)::float8 AS entries,
      (SELECT count(*) FROM bans)::float8 AS bans, (SELECT count(*) FROM gifs)::float8 AS gifs,
      (SELECT coalesce(sum(octet_length(bytes)), 0) FROM gifs)::float8 AS gif_bytes`,
} as const;

/** U+0000 in a string: PostgreSQL's text cannot hold it; U+FFFD takes its place, and is counted. */
function cleaner() {
  let replaced = 0;
  const clean = <T extends string | null>(value: T): T => {
    if (value === null || !value.includes('\0')) return value;
    replaced++;
    return value.replaceAll('\0', '\uFFFD') as T;
  };
  return { clean, replaced: () => replaced };
}

interface RoomCheck {
  id: string;
  last_seq: number;
  n: number;
  max_seq: number | null;
}

type Totals = { rooms: number; entries: number; bans: number; gifs: number; gif_bytes: number };

/**
 * Copies the SQLite deployment at `options.sqliteFile` and `options.uploadsDir` into the
 * PostgreSQL database at `options.databaseUrl` (see the top of this file). Resolves with
 * what was copied and checked; rejects with CopyError (a message for the operator) having
 * written no data.
 */
export async function copySqliteToPostgres(options: CopyOptions): Promise<CopyReport> {
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
  const batchBytes = Math.max(1, options.batchBytes ?? DEFAULT_BATCH_BYTES);
  const now = options.now ?? Date.now();
  const progress = async (p: Progress) => {
    if (options.onProgress) await options.onProgress(p);
  };

  const source = await openSource(options.sqliteFile);
  const client = new Client({
    connectionString: options.databaseUrl,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'gif-chat-migrate',
  });
  // A connection that breaks between two queries: the next query fails with the reason.
  client.on('error', () => {});
  const { clean, replaced: nulReplaced } = cleaner();
  try {
    await phase(`connecting to ${safeUrl(options.databaseUrl)}`, () => client.connect());
    const pgMigrationsApplied = await phase('applying the PostgreSQL migrations', () => migratePostgres(client));

    const db = source.db;
    const report: CopyReport = {
      source: { file: options.sqliteFile, uploadsDir: options.uploadsDir, schemaVersion: source.schemaVersion, upgraded: source.upgraded },
      pgMigrationsApplied,
      replaced: { rooms: 0, entries: 0, bans: 0, gifs: 0 },
      rooms: 0,
      entries: 0,
      bans: 0,
      sessions: 0,
      expiredSessions: 0,
      gifs: 0,
      gifBytes: 0,
      otherFiles: 0,
      missingGifs: { count: 0, first: [] },
      nulReplaced: 0,
      verifiedRooms: 0,
    };

    await phase('starting the PostgreSQL transaction', () => client.query('BEGIN'));
    try {
      // ---- The target: ours alone until COMMIT, and empty (or emptied with force).
      const before = await phase('locking the target tables', async () => {
        await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
        try {
          await client.query('LOCK TABLE rooms, entries, bans, gifs IN EXCLUSIVE MODE');
        } catch (err) {
          if ((err as { code?: unknown }).code === '55P03') {
            throw new CopyError('the target tables stayed locked: is a server running on the target database? Stop it and run this again');
          }
          throw err;
        }
        return totals(client);
      });
      if (before.rooms + before.entries + before.bans + before.gifs > 0) {
        const held = `${before.rooms} rooms, ${before.entries} entries, ${before.bans} bans and ${before.gifs} GIFs`;
        if (!options.force) {
          throw new CopyError(`the target database already holds ${held}: nothing was copied (--force replaces them)`);
        }
        await phase('emptying the target', () => client.query('TRUNCATE rooms, entries, bans, gifs'));
        report.replaced = { rooms: before.rooms, entries: before.entries, bans: before.bans, gifs: before.gifs };
      }

      // ---- One read transaction on SQLite: every table from the same snapshot.
      db.exec('BEGIN');
      try {
        await phase('copying rooms', async () => {
          const next = pager<RoomSource>(db, `SELECT rowid AS rid, ${ROOM_COLUMNS} FROM rooms`, undefined, ['rowid'], (r) => [r.rid], batchSize);
          for (let rows = next(); rows.length > 0; rows = next()) {
            await client.query(pgSql.insertRooms, [
              rows.map((r) => r.id),
              rows.map((r) => clean(r.title)),
              rows.map((r) => r.max),
              rows.map((r) => r.password_hash),
              rows.map((r) => r.owner_id),
              rows.map((r) => clean(r.owner_name)),
              rows.map((r) => r.owner_color),
              rows.map((r) => r.created_at),
              rows.map((r) => r.last_seq),
              rows.map((r) => r.last_activity),
              rows.map((r) => r.owner_away_since),
            ]);
            report.rooms += rows.length;
            await progress({ phase: 'rooms', done: report.rooms, bytes: 0 });
          }
        });

        await phase('copying entries', async () => {
          const next = pager<EntryRow>(
            db,
            `SELECT ${ENTRY_COLUMNS} FROM entries`,
            undefined,
            ['room_id', 'seq'],
            (e) => [e.room_id, e.seq],
            batchSize,
            batchBytes,
            (e) => (e.text?.length ?? 0) + e.user_name.length + 100,
          );
          for (let rows = next(); rows.length > 0; rows = next()) {
            await client.query(pgSql.insertEntries, [
              rows.map((e) => e.room_id),
              rows.map((e) => e.seq),
              rows.map((e) => e.kind),
              rows.map((e) => e.user_id),
              rows.map((e) => clean(e.user_name)),
              rows.map((e) => e.user_color),
              rows.map((e) => clean(e.text)),
              rows.map((e) => e.gif),
              rows.map((e) => e.gif_width),
              rows.map((e) => e.gif_height),
              rows.map((e) => clean(e.nonce)),
              rows.map((e) => e.ts),
            ]);
            report.entries += rows.length;
            await progress({ phase: 'entries', done: report.entries, bytes: 0 });
          }
        });

        await phase('copying bans', async () => {
          const next = pager<{ room_id: string; user_id: string; until: number }>(
            db,
            'SELECT room_id, user_id, until FROM bans',
            undefined,
            ['room_id', 'user_id'],
            (b) => [b.room_id, b.user_id],
            batchSize,
          );
          for (let rows = next(); rows.length > 0; rows = next()) {
            await client.query(pgSql.insertBans, [rows.map((b) => b.room_id), rows.map((b) => b.user_id), rows.map((b) => b.until)]);
            report.bans += rows.length;
            await progress({ phase: 'bans', done: report.bans, bytes: 0 });
          }
        });

        await phase('copying sessions', async () => {
          report.expiredSessions = db.prepare('SELECT count(*) FROM sessions WHERE expires <= ?').pluck().get(now) as number;
          const next = pager<{ sid: string; json: string; expires: number }>(
            db,
            'SELECT sid, json, expires FROM sessions',
            `expires > ${Number(now)}`,
            ['sid'],
            (s) => [s.sid],
            batchSize,
            batchBytes,
            (s) => s.json.length,
          );
          for (let rows = next(); rows.length > 0; rows = next()) {
            await client.query(pgSql.upsertSessions, [rows.map((s) => s.sid), rows.map((s) => s.json), rows.map((s) => s.expires)]);
            report.sessions += rows.length;
            await progress({ phase: 'sessions', done: report.sessions, bytes: 0 });
          }
        });

        await phase(`copying the GIF files of ${options.uploadsDir}`, async () => {
          const counted = await copyGifs(client, options.uploadsDir, batchSize, batchBytes, async (files, bytes) => {
            report.gifs = files;
            report.gifBytes = bytes;
            await progress({ phase: 'gifs', done: files, bytes });
          });
          report.otherFiles = counted.otherFiles;
        });

        await phase('looking for GIFs referred to but missing', async () => {
          const { rows } = await client.query<{ url: string; uses: string; room: string; seq: string; total: string }>(pgSql.missingGifs);
          report.missingGifs = {
            count: rows.length > 0 ? Number(rows[0].total) : 0,
            first: rows.map((r) => ({ url: r.url, room: r.room, seq: Number(r.seq), uses: Number(r.uses) })),
          };
        });

        report.nulReplaced = nulReplaced();
        report.verifiedRooms = await phase('verifying', () => verify(db, client, report, batchSize));
      } finally {
        if (db.inTransaction) db.exec('COMMIT');
      }

      await phase('committing', () => client.query('COMMIT'));
      return report;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  } finally {
    await client.end().catch(() => {});
    source.close();
  }
}

async function totals(client: Client): Promise<Totals> {
  const { rows } = await client.query<Totals>(pgSql.totals);
  return rows[0];
}

/**
 * Every stored GIF file of the folder into `gifs`, a batch at a time (at most `batchBytes`,
 * or one bigger file). A file that cannot be read fails the copy; other names are counted and skipped.
 */
async function copyGifs(
  client: Client,
  dir: string,
  batchSize: number,
  batchBytes: number,
  onBatch: (files: number, bytes: number) => Promise<void>,
): Promise<{ otherFiles: number }> {
  let handle: fs.Dir;
  try {
    handle = await fs.promises.opendir(dir);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return { otherFiles: 0 };
    throw err;
  }
  let otherFiles = 0;
  let files = 0;
  let bytes = 0;
  let batch: { name: string; bytes: Buffer; createdAt: number }[] = [];
  let batchTotal = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const values: unknown[] = [];
    const rows = batch.map((gif, i) => {
      values.push(gif.name, gif.bytes, gif.createdAt);
      return `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`;
    });
    await client.query(`INSERT INTO gifs (name, bytes, created_at) VALUES ${rows.join(', ')}`, values);
    files += batch.length;
    bytes += batchTotal;
    batch = [];
    batchTotal = 0;
    await onBatch(files, bytes);
  };
  for await (const dirent of handle) {
    if (!isGifName(dirent.name)) {
      otherFiles++;
      continue;
    }
    const file = path.join(dir, dirent.name);
    let content: Buffer;
    let createdAt: number;
    try {
      const fh = await fs.promises.open(file, 'r');
      try {
        createdAt = Math.floor((await fh.stat()).mtimeMs);
        content = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new CopyError(`cannot read the GIF file ${file}: ${reasonOf(err)}`);
    }
    if (batch.length > 0 && (batch.length >= batchSize || batchTotal + content.length > batchBytes)) await flush();
    batch.push({ name: dirent.name, bytes: content, createdAt });
    batchTotal += content.length;
  }
  await flush();
  return { otherFiles };
}

/**
 * Inside both transactions: for every room, its entry count, highest seq and last_seq are
 * the same on both sides; the totals of rooms, entries, bans and GIFs are what was copied.
 * Resolves with the number of rooms checked; rejects with CopyError naming the first difference.
 */
async function verify(db: Database.Database, client: Client, report: CopyReport, batchSize: number): Promise<number> {
  const next = pager<RoomCheck & { rid: number }>(
    db,
    `SELECT r.rowid AS rid, r.id, r.last_seq,
        (SELECT count(*) FROM entries e WHERE e.room_id = r.id) AS n,
        (SELECT max(seq) FROM entries e WHERE e.room_id = r.id) AS max_seq
      FROM rooms r`,
    undefined,
    ['r.rowid'],
    (r) => [r.rid],
    batchSize,
  );
  let checked = 0;
  for (let rows = next(); rows.length > 0; rows = next()) {
    const { rows: theirs } = await client.query<RoomCheck>(pgSql.roomChecks, [rows.map((r) => r.id)]);
    const byId = new Map(theirs.map((r) => [r.id, r]));
    for (const mine of rows) {
      const copy = byId.get(mine.id);
      if (copy === undefined) throw new CopyError(`verification failed: room ${mine.id} is missing from PostgreSQL`);
      const a = `${mine.n} entries, highest seq ${mine.max_seq ?? 0}, last_seq ${mine.last_seq}`;
      const b = `${copy.n} entries, highest seq ${copy.max_seq ?? 0}, last_seq ${copy.last_seq}`;
      if (a !== b) throw new CopyError(`verification failed: room ${mine.id} has ${a} in SQLite but ${b} in PostgreSQL`);
      checked++;
    }
  }
  const sqlite = db.prepare('SELECT (SELECT count(*) FROM rooms) AS rooms, (SELECT count(*) FROM entries) AS entries, (SELECT count(*) FROM bans) AS bans').get() as Totals;
  const pg = await totals(client);
  const expected: Totals = { rooms: sqlite.rooms, entries: sqlite.entries, bans: sqlite.bans, gifs: report.gifs, gif_bytes: report.gifBytes };
  for (const key of Object.keys(expected) as (keyof Totals)[]) {
    if (pg[key] !== expected[key]) throw new CopyError(`verification failed: ${key.replace('_', ' ')}: ${expected[key]} expected, ${pg[key]} in PostgreSQL`);
  }
  return checked;
}

// ---------------------------------------------------------------------------------------
// The report, for people

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

/** The report as lines for a terminal. */
export function describeReport(report: CopyReport): string[] {
  const lines: string[] = [];
  if (report.source.upgraded) {
    lines.push(`the SQLite file had schema version ${report.source.schemaVersion}: an upgraded copy of it was read (the file itself is unchanged)`);
  }
  if (report.pgMigrationsApplied.length > 0) lines.push(`PostgreSQL migrations applied: ${report.pgMigrationsApplied.join(', ')}`);
  const r = report.replaced;
  if (r.rooms + r.entries + r.bans + r.gifs > 0) {
    lines.push(`replaced (--force): ${r.rooms} rooms, ${r.entries} entries, ${r.bans} bans, ${r.gifs} GIFs were removed from the target first`);
  }
  lines.push(
    `copied: ${report.rooms} rooms, ${report.entries} entries, ${report.bans} bans, ${report.sessions} sessions` +
      ` (${report.expiredSessions} expired, left behind), ${report.gifs} GIFs (${report.gifBytes} bytes, ${mib(report.gifBytes)})`,
  );
  lines.push(
    `verified: ${report.verifiedRooms} rooms with the same entry count, highest seq and last_seq on both sides;` +
      ` totals of rooms, entries, bans and GIF bytes equal`,
  );
  if (report.otherFiles > 0) lines.push(`note: ${report.otherFiles} other files in ${report.source.uploadsDir} are not stored GIFs: not copied`);
  if (report.nulReplaced > 0) {
    lines.push(`note: ${report.nulReplaced} strings held U+0000, which PostgreSQL text cannot store: copied with U+FFFD in its place`);
  }
  const missing = report.missingGifs;
  if (missing.count > 0) {
    lines.push(`warning: ${missing.count} GIFs referred to by entries are not in ${report.source.uploadsDir} (those entries are copied; the GIFs will not load):`);
    for (const m of missing.first) lines.push(`  ${m.url}: first in room ${m.room} at seq ${m.seq}, ${m.uses} entries`);
    if (missing.count > missing.first.length) lines.push(`  and ${missing.count - missing.first.length} more`);
  }
  return lines;
}
