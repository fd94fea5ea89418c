import { Client, Pool, PoolClient, QueryConfig, QueryResultRow, types as pgTypes } from 'pg';
import { consoleLogger, Logger } from '../logger';
import { ChatError } from '../protocol/errors';
import { Entry, UserInfo } from '../protocol/types';
import { checkHealth } from '../health';
import { connectionLost, pgFailure as failure, raceLost } from './pg-errors';
import { PgGifStore } from './pg-gif-store';
import { migratePostgres } from './migrations';
import { ENTRY_COLUMNS, EntryRow, messageEntry, ROOM_COLUMNS, RoomRow, toEntry, toRoom } from './rows';
import { addressSubject, AppendOp, AppendResult, DeletedRoom, RoomRecord, Store } from './store';

/** Tuning; the defaults are what the server runs with. */
export interface PgStoreOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** How long one statement may run, lock waits included, before it fails as `unavailable` (default 5000). */
  statementTimeoutMs?: number;
  /** Where idle-connection errors are reported (default: the console). */
  logger?: Logger;
}

/** How long getting a connection may take before a request fails as `unavailable`. */
export const CONNECT_TIMEOUT_MS = 2000;
/** The default statement timeout. */
export const STATEMENT_TIMEOUT_MS = 5000;
/** Migrations may take longer than a request (and wait for another server's migrations). */
const MIGRATION_TIMEOUT_MS = 120_000;
/** How often a call is tried again after losing a race (see raceLost). */
const CONFLICT_RETRIES = 5;

/**
 * bigint columns (ms timestamps, seqs, counts) as JS numbers, on this store's connections
 * only (the global parsers stay as they are).
 */
const parseInt8 = (value: string): number => Number(value);
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pgTypes.builtins.INT8 ? parseInt8 : pgTypes.getTypeParser(oid, format)) as typeof pgTypes.getTypeParser,
};


/** The same shapes, with the same key order, as the SQLite store's. */

// Hot statements, prepared once per connection by pg (named). Ids compare as COLLATE "C"
// (the columns'), so the parameters' default collation gives way to it and indexes apply.
const sql = {
  /** Locks the batch's rooms in one fixed order (by id), so two servers' batches never deadlock. */
  lockRooms: 'SELECT id, last_seq, owner_id FROM rooms WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
  /**
   * The stored entries among a batch's (room, nonce, user) keys: one probe of the unique index
   * per key. LATERAL leaves the planner no other join: a plain join's generic plan, made while
   * the table was small, hashes the keys and scans every entry (that was 15 ms per batch at
   * 30,000 entries and growing, until autovacuum's next ANALYZE replaced the plan).
   */
  findNonces: `SELECT e.* FROM unnest($1::text[], $2::text[], $3::text[]) AS k(room_id, nonce, user_id)
    CROSS JOIN LATERAL (
      SELECT ${ENTRY_COLUMNS} FROM entries
      WHERE room_id = k.room_id AND nonce = k.nonce AND user_id = k.user_id AND nonce IS NOT NULL
      LIMIT 1
    ) e`,
  /** A batch's new entries, and each room's counter and last activity, in one statement. */
  insertEntries: `WITH appended AS (
      INSERT INTO entries (${ENTRY_COLUMNS})
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::integer[], $10::integer[], $11::text[], $12::bigint[])
    )
    UPDATE rooms AS r SET last_seq = c.seq, last_activity = c.ts
    FROM unnest($13::text[], $14::bigint[], $15::bigint[]) AS c(id, seq, ts)
    WHERE r.id = c.id`,
  setOwner: 'UPDATE rooms SET owner_id = $2, owner_name = $3, owner_color = $4 WHERE id = $1',
  upsertBans: `INSERT INTO bans (room_id, user_id, until) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
    ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until`,
  selectRoom: `SELECT ${ROOM_COLUMNS} FROM rooms WHERE id = $1`,
  selectRooms: `SELECT ${ROOM_COLUMNS} FROM rooms ORDER BY created_at, created_order`,
  // No index on last_activity: every append updates it, and rooms' updates stay HOT only without one. A page is one scan keeping the top $1.
  selectActiveRooms: `SELECT ${ROOM_COLUMNS} FROM rooms ORDER BY last_activity DESC, id COLLATE "C" DESC LIMIT $1`,
  selectActiveRoomsAfter: `SELECT ${ROOM_COLUMNS} FROM rooms WHERE (last_activity, id COLLATE "C") < ($2, $3 COLLATE "C") ORDER BY last_activity DESC, id COLLATE "C" DESC LIMIT $1`,
  insertRoom: `INSERT INTO rooms (id, title, max, password_hash, owner_id, owner_name, owner_color, created_at, last_seq, last_activity, owner_away_since)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $8, NULL)`,
  countRooms: 'SELECT count(*) AS n FROM rooms',
  lockForDelete: 'SELECT last_activity FROM rooms WHERE id = $1 FOR UPDATE',
  /** Entries, bans and the room in one statement; the GIFs the entries referenced, first use first. */
  deleteRoom: `WITH gone AS (DELETE FROM entries WHERE room_id = $1 RETURNING seq, gif),
      bans_gone AS (DELETE FROM bans WHERE room_id = $1),
      room_gone AS (DELETE FROM rooms WHERE id = $1)
    SELECT gif FROM gone WHERE gif IS NOT NULL GROUP BY gif ORDER BY min(seq)`,
  idleRooms: 'SELECT id FROM rooms WHERE last_activity < $1 ORDER BY last_activity, created_order',
  renameOwner: 'UPDATE rooms SET owner_name = $2, owner_color = $3 WHERE owner_id = $1 RETURNING id',
  setOwnerAway: 'UPDATE rooms SET owner_away_since = $2 WHERE id = $1',
  /** A running ban's end (the later of the user's and the address's); ended ones are removed on the way (the SELECT sees the rows as they were, and skips it). */
  bannedUntil: `WITH ended AS (DELETE FROM bans WHERE room_id = $1 AND user_id = ANY($2::text[]) AND until <= $3)
    SELECT max(until) AS until FROM bans WHERE room_id = $1 AND user_id = ANY($2::text[]) AND until > $3`,
  /** Address bans: a later end replaces an earlier one, never the reverse. */
  banSubjects: `INSERT INTO bans (room_id, user_id, until) SELECT $1, s, $3 FROM unnest($2::text[]) AS s
    ON CONFLICT (room_id, user_id) DO UPDATE SET until = GREATEST(bans.until, excluded.until)`,
  ownedRoomCount: 'SELECT count(*) AS n FROM rooms WHERE owner_id = $1',
  pruneBans: 'DELETE FROM bans WHERE until <= $1',
  entriesAfter: `SELECT ${ENTRY_COLUMNS} FROM entries WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
  entriesLatest: `SELECT * FROM (SELECT ${ENTRY_COLUMNS} FROM entries WHERE room_id = $1 ORDER BY seq DESC LIMIT $2) t ORDER BY seq`,
  entriesBefore: `SELECT * FROM (SELECT ${ENTRY_COLUMNS} FROM entries WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3) t ORDER BY seq`,
  getSession: 'SELECT sess::text AS json FROM session WHERE sid = $1 AND expire > to_timestamp($2 / 1000.0)',
  // The table connect-pg-simple keeps (express-session on PostgreSQL): the socket side reads
  // and writes the same rows the pages do.
  setSession: `INSERT INTO session (sid, sess, expire) VALUES ($1, $2::json, to_timestamp($3 / 1000.0))
    ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
  touchSession: 'UPDATE session SET expire = to_timestamp($2 / 1000.0) WHERE sid = $1',
  destroySession: 'DELETE FROM session WHERE sid = $1',
  pruneSessions: 'DELETE FROM session WHERE expire <= to_timestamp($1 / 1000.0)',
  insertGif: 'INSERT INTO gifs (name, bytes, created_at) VALUES ($1, $2, $3)',
  selectGif: 'SELECT bytes, created_at FROM gifs WHERE name = $1',
  deleteGifs: 'DELETE FROM gifs WHERE name = ANY($1::text[])',
  usage: 'SELECT pg_database_size(current_database())::bigint AS bytes',
  // Looks at the room's $3 oldest entries only (the primary key's order): a bounded step.
  pruneEntries: `DELETE FROM entries WHERE room_id = $1 AND seq IN (
    SELECT seq FROM (SELECT seq, ts FROM entries WHERE room_id = $1 ORDER BY seq LIMIT $3) oldest WHERE ts < $2
  ) RETURNING gif`,
} as const;

type StatementName = keyof typeof sql;

/** A named (prepared once per connection) query. */
function statement(name: StatementName, values: unknown[]): QueryConfig {
  return { name: `gif-chat.${name}`, text: sql[name], values };
}

// ---------------------------------------------------------------------------------------

/** One use of a pooled connection. */
interface Session {
  client: PoolClient;
  /** BEGIN was sent and neither COMMIT nor ROLLBACK has finished. */
  inTransaction: boolean;
  /** COMMIT was sent: from here on a lost connection leaves the outcome unknown, so no retry. */
  committing: boolean;
}

interface RetryPolicy {
  /** Try again on another connection when a pooled one turns out broken before a commit could have happened. */
  lost: boolean;
  /** Try again (a few times) after losing a race: see raceLost. */
  races: boolean;
}

/** Reads, and writes that may run twice (the second finds its work done). */
const idempotent: RetryPolicy = { lost: true, races: true };
/** Writes that must not run twice. */
const once: RetryPolicy = { lost: false, races: false };

async function begin(session: Session): Promise<void> {
  session.inTransaction = true;
  await session.client.query('BEGIN');
}

async function commit(session: Session): Promise<void> {
  session.committing = true;
  await session.client.query('COMMIT');
  session.inTransaction = false;
}

/** The counter of one room a batch appends to, read under the room's row lock. */
interface Counter {
  seq: number;
  ts: number;
  appended: boolean;
  ownerId: string;
  /** The owner the batch hands the room to, if it does. */
  newOwner: UserInfo | undefined;
}

const key = (room: string, user: string, nonce: string) => `${room}\u0000${user}\u0000${nonce}`;

/** Checks what the SQLite store checks inside its transaction: misuse is a bug, the whole batch fails. */
function checkOps(ops: readonly AppendOp[]): void {
  for (const op of ops) {
    const e = op.entry;
    if ('kind' in e) {
      if (op.ownerWas !== undefined && e.kind !== 'owner') throw new Error(`ownerWas is for owner entries, not ${e.kind}`);
      if (op.banUntil !== undefined && e.kind !== 'kicked') throw new Error(`banUntil is for kicked entries, not ${e.kind}`);
    } else if (op.ownerWas !== undefined || op.banUntil !== undefined) {
      throw new Error('ownerWas and banUntil are not for messages');
    }
  }
}

/**
 * One try at a batch, inside its transaction on `session`: lock the rooms (fixed order),
 * look up the nonces (one query, after the locks: READ COMMITTED, so whatever another
 * server committed before it released a room is seen), allocate seqs in memory, then write
 * every entry and counter in one statement. A few round trips per batch, whatever its size.
 */
async function appendBatch(session: Session, ops: readonly AppendOp[]): Promise<AppendResult[]> {
  const client = session.client;
  const roomIds = [...new Set(ops.map((op) => op.entry.room))];
  await begin(session);
  const locked = await client.query<{ id: string; last_seq: number; owner_id: string }>(statement('lockRooms', [roomIds]));
  const counters = new Map<string, Counter>();
  for (const row of locked.rows) counters.set(row.id, { seq: row.last_seq, ts: 0, appended: false, ownerId: row.owner_id, newOwner: undefined });

  // Nonces stored before this batch.
  const stored = new Map<string, EntryRow>();
  const nonceRooms: string[] = [];
  const nonceValues: string[] = [];
  const nonceUsers: string[] = [];
  for (const op of ops) {
    const e = op.entry;
    if (!('kind' in e) && e.nonce !== undefined && counters.has(e.room)) {
      nonceRooms.push(e.room);
      nonceValues.push(e.nonce);
      nonceUsers.push(e.user.id);
    }
  }
  if (nonceRooms.length > 0) {
    const found = await client.query<EntryRow>(statement('findNonces', [nonceRooms, nonceValues, nonceUsers]));
    for (const row of found.rows) stored.set(key(row.room_id, row.user_id, row.nonce as string), row);
  }

  const n = ops.length;
  const results: AppendResult[] = new Array(n);
  // Nonces this batch stores: a second use in the batch is a duplicate of the first.
  const fresh = new Map<string, Entry>();
  const bans = new Map<string, [string, string, number]>();
  const rooms: string[] = [];
  const seqs: number[] = [];
  const kinds: (string | null)[] = [];
  const userIds: string[] = [];
  const userNames: string[] = [];
  const userColors: string[] = [];
  const texts: (string | null)[] = [];
  const gifs: (string | null)[] = [];
  const widths: (number | null)[] = [];
  const heights: (number | null)[] = [];
  const nonces: (string | null)[] = [];
  const tss: number[] = [];
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    const e = op.entry;
    const room = e.room;
    const user = { id: e.user.id, name: e.user.name, color: e.user.color };
    const counter = counters.get(room);
    if ('kind' in e) {
      if (counter === undefined) {
        results[i] = { refused: 'not_found' };
        continue;
      }
      if (e.kind === 'owner') {
        // Compare-and-set on the locked row (as it stands after this batch's earlier ops): a refused hand-over uses no seq.
        if (op.ownerWas !== undefined && counter.ownerId !== op.ownerWas) {
          results[i] = { refused: 'conflict' };
          continue;
        }
        counter.ownerId = user.id;
        counter.newOwner = user;
      }
      const seq = ++counter.seq;
      counter.ts = e.ts;
      counter.appended = true;
      if (op.banUntil !== undefined) bans.set(`${room}\u0000${user.id}`, [room, user.id, op.banUntil]);
      rooms.push(room);
      seqs.push(seq);
      kinds.push(e.kind);
      userIds.push(user.id);
      userNames.push(user.name);
      userColors.push(user.color);
      texts.push(null);
      gifs.push(null);
      widths.push(null);
      heights.push(null);
      nonces.push(null);
      tss.push(e.ts);
      results[i] = { entry: { room, seq, kind: e.kind, user, ts: e.ts }, duplicate: false };
      continue;
    }
    const nonce = e.nonce;
    if (nonce !== undefined) {
      const k = key(room, user.id, nonce);
      const row = stored.get(k);
      if (row !== undefined) {
        results[i] = { entry: toEntry(row), duplicate: true };
        continue;
      }
      const earlier = fresh.get(k);
      if (earlier !== undefined) {
        results[i] = { entry: earlier, duplicate: true };
        continue;
      }
    }
    if (counter === undefined) {
      results[i] = { refused: 'not_found' };
      continue;
    }
    const seq = ++counter.seq;
    counter.ts = e.ts;
    counter.appended = true;
    // The same fields in the same order as toEntry, so it serializes as a read would.
    const entry = messageEntry(e, seq, user);
    rooms.push(room);
    seqs.push(seq);
    kinds.push(null);
    userIds.push(user.id);
    userNames.push(user.name);
    userColors.push(user.color);
    texts.push(entry.text ?? null);
    gifs.push(entry.gif ?? null);
    widths.push(entry.width ?? null);
    heights.push(entry.height ?? null);
    nonces.push(nonce ?? null);
    tss.push(e.ts);
    if (nonce !== undefined) fresh.set(key(room, user.id, nonce), entry);
    results[i] = { entry, duplicate: false };
  }

  if (rooms.length > 0) {
    const counterRooms: string[] = [];
    const counterSeqs: number[] = [];
    const counterTs: number[] = [];
    for (const [room, counter] of counters) {
      if (!counter.appended) continue;
      counterRooms.push(room);
      counterSeqs.push(counter.seq);
      counterTs.push(counter.ts);
    }
    await client.query(
      statement('insertEntries', [rooms, seqs, kinds, userIds, userNames, userColors, texts, gifs, widths, heights, nonces, tss, counterRooms, counterSeqs, counterTs]),
    );
    for (const [room, counter] of counters) {
      const owner = counter.newOwner;
      if (owner !== undefined) await client.query(statement('setOwner', [room, owner.id, owner.name, owner.color]));
    }
    if (bans.size > 0) {
      const b = [...bans.values()];
      await client.query(statement('upsertBans', [b.map((x) => x[0]), b.map((x) => x[1]), b.map((x) => x[2])]));
    }
  }
  await commit(session);
  return results;
}

/**
 * Opens the PostgreSQL store at `url` (postgres://user:pass@host:port/db) and brings its
 * schema up to date (see ./migrations). Rejects with ChatError `unavailable` when the
 * database cannot be reached, else with a plain Error.
 *
 * Requests fail fast while PostgreSQL is down: getting a connection gives up after
 * CONNECT_TIMEOUT_MS, a statement after `statementTimeoutMs` (server side; the client gives
 * up a second later should the server not answer at all), and a broken connection is never
 * put back in the pool.
 */
export async function openPgStore(url: string, options: PgStoreOptions = {}): Promise<Store> {
  const logger = options.logger ?? consoleLogger;
  const statementTimeoutMs = options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS;

  // Migrations on a connection of their own, with a longer timeout (another server may be migrating).
  const migrator = new Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: MIGRATION_TIMEOUT_MS,
    query_timeout: MIGRATION_TIMEOUT_MS + 5000,
    application_name: 'gif-chat',
    types: typeParsers,
  });
  migrator.on('error', () => {}); // a failure shows in the query that meets it
  try {
    await migrator.connect();
    await migratePostgres(migrator);
  } catch (err) {
    throw failure('open', err);
  } finally {
    await migrator.end().catch(() => {});
  }

  const poolSize = options.poolSize ?? 10;
  const pool = new Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 1000,
    // A server stuck mid-transaction (holding room locks) is cut off instead of stalling every other one.
    idle_in_transaction_session_timeout: Math.max(10_000, 2 * statementTimeoutMs),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'gif-chat',
    types: typeParsers,
  });
  // An idle connection that breaks (server restart, terminated backend) is dropped by the pool; it must never crash the process.
  pool.on('error', (err) => logger.warn(`postgres: an idle connection failed and was dropped: ${err.message}`));

  let closed = false;
  let closing: Promise<void> | undefined;
  /** Connections handed out before: one of these may have died while it waited in the pool. */
  const used = new WeakSet<PoolClient>();

  /**
   * Runs `work` on a pooled connection. On failure: rolls back an open transaction, drops a
   * broken connection instead of pooling it again, retries as `policy` allows, and rejects
   * with what the error becomes on this side of the seam.
   */
  const use = async <T>(what: string, policy: RetryPolicy, work: (session: Session) => Promise<T>): Promise<T> => {
    // Every pooled connection may have died while idle (all of them, after a restart or a mass termination).
    let lostRetries = policy.lost ? poolSize + 1 : 0;
    let raceRetries = policy.races ? CONFLICT_RETRIES : 0;
    for (;;) {
      if (closed) throw new Error(`store: ${what} failed: the store is closed`);
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw failure(what, err);
      }
      const reused = used.has(client);
      used.add(client);
      // A connection that breaks between two queries emits 'error': noted here (else it would crash the process).
      let broken = false;
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      const session: Session = { client, inTransaction: false, committing: false };
      try {
        const result = await work(session);
        client.removeListener('error', onError);
        client.release(broken);
        return result;
      } catch (err) {
        const failed = failure(what, err);
        // A storage failure: the connection may be dead or mid-query, so it is dropped (the server rolls back).
        let drop = broken || failed instanceof ChatError;
        if (session.inTransaction && !drop) {
          try {
            await client.query('ROLLBACK');
          } catch {
            drop = true;
          }
        }
        client.removeListener('error', onError);
        client.release(drop);
        // A connection that had waited in the pool broke before COMMIT: nothing was committed, and a
        // fresh one may well work. A fresh connection breaking means the server is going away: no retry.
        if (reused && !session.committing && connectionLost(err) && lostRetries-- > 0) continue;
        if (raceLost(err) && raceRetries-- > 0) continue;
        throw failed;
      }
    }
  };

  /** One statement on a pooled connection, no transaction. */
  const run = <R extends QueryResultRow>(what: string, policy: RetryPolicy, name: StatementName, values: unknown[]) =>
    use(what, policy, (s) => s.client.query<R>(statement(name, values)));

  return {
    append: async (ops) => {
      if (ops.length === 0) return [];
      try {
        checkOps(ops);
      } catch (err) {
        throw failure('append', err);
      }
      // A retry (after a lost connection before COMMIT, or a lost nonce race) starts the batch over.
      return use('append', { lost: true, races: true }, (session) => appendBatch(session, ops));
    },
    createRoom: async (r: RoomRecord) => {
      // No retry: had the INSERT committed before the connection broke, a second one would find the room.
      await run('createRoom', once, 'insertRoom', [r.id, r.title, r.max, r.passwordHash, r.owner.id, r.owner.name, r.owner.color, r.createdAt]);
    },
    room: async (id) => {
      const { rows } = await run<RoomRow>('room', idempotent, 'selectRoom', [id]);
      return rows.length > 0 ? toRoom(rows[0]) : undefined;
    },
    rooms: async () => (await run<RoomRow>('rooms', idempotent, 'selectRooms', [])).rows.map(toRoom),
    roomsByActivity: async (after, limit) =>
      (after
        ? await run<RoomRow>('roomsByActivity', idempotent, 'selectActiveRoomsAfter', [limit, after.lastActivity, after.id])
        : await run<RoomRow>('roomsByActivity', idempotent, 'selectActiveRooms', [limit])
      ).rows.map(toRoom),
    roomCount: async () => (await run<{ n: number }>('roomCount', idempotent, 'countRooms', [])).rows[0].n,
    deleteRoom: (id, idleBefore) =>
      use('deleteRoom', idempotent, async (session): Promise<DeletedRoom> => {
        await begin(session);
        // The room's lock first: an append in flight on it commits (and moves its activity) before this looks.
        const { rows } = await session.client.query<{ last_activity: number }>(statement('lockForDelete', [id]));
        if (rows.length === 0 || (idleBefore !== undefined && rows[0].last_activity >= idleBefore)) {
          await commit(session);
          return { deleted: false, gifs: [] };
        }
        const gone = await session.client.query<{ gif: string }>(statement('deleteRoom', [id]));
        await commit(session);
        return { deleted: true, gifs: gone.rows.map((r) => r.gif) };
      }),
    idleRooms: async (before) => (await run<{ id: string }>('idleRooms', idempotent, 'idleRooms', [before])).rows.map((r) => r.id),
    renameOwner: async (user) =>
      (await run<{ id: string }>('renameOwner', idempotent, 'renameOwner', [user.id, user.name, user.color])).rows.map((r) => r.id),
    setOwnerAway: async (room, since) => {
      await run('setOwnerAway', idempotent, 'setOwnerAway', [room, since]);
    },
    bannedUntil: async (room, user, now, address) => {
      const subjects = address === undefined ? [user] : [user, addressSubject(address)];
      const { rows } = await run<{ until: number | null }>('bannedUntil', idempotent, 'bannedUntil', [room, subjects, now]);
      return rows.length > 0 && rows[0].until !== null ? rows[0].until : undefined;
    },
    banAddresses: async (room, addresses, until) => {
      if (addresses.length === 0) return;
      await run('banAddresses', idempotent, 'banSubjects', [room, [...new Set(addresses.map(addressSubject))], until]);
    },
    ownedRoomCount: async (owner) => (await run<{ n: number }>('ownedRoomCount', idempotent, 'ownedRoomCount', [owner])).rows[0].n,
    pruneBans: async (now) => (await run('pruneBans', idempotent, 'pruneBans', [now])).rowCount ?? 0,
    entriesAfter: async (room, since, limit) => (await run<EntryRow>('entriesAfter', idempotent, 'entriesAfter', [room, since, limit])).rows.map(toEntry),
    entriesBefore: async (room, before, limit) =>
      (before === undefined
        ? await run<EntryRow>('entriesBefore', idempotent, 'entriesLatest', [room, limit])
        : await run<EntryRow>('entriesBefore', idempotent, 'entriesBefore', [room, before, limit])
      ).rows.map(toEntry),
    getSession: async (sid, now) => (await run<{ json: string }>('getSession', idempotent, 'getSession', [sid, now])).rows[0]?.json,
    setSession: async (sid, json, expires) => {
      await run('setSession', idempotent, 'setSession', [sid, json, expires]);
    },
    touchSession: async (sid, expires) => {
      await run('touchSession', idempotent, 'touchSession', [sid, expires]);
    },
    destroySession: async (sid) => {
      await run('destroySession', idempotent, 'destroySession', [sid]);
    },
    pruneSessions: async (now) => (await run('pruneSessions', idempotent, 'pruneSessions', [now])).rowCount ?? 0,
    pruneEntries: async (room, before, limit) => {
      const rows = (await run<{ gif: string | null }>('pruneEntries', idempotent, 'pruneEntries', [room, before, limit])).rows;
      return { deleted: rows.length, gifs: rows.map((r) => r.gif).filter((gif): gif is string => gif !== null) };
    },
    usage: async () => Number((await run<{ bytes: string }>('usage', idempotent, 'usage', [])).rows[0]?.bytes ?? 0),
    health: () => checkHealth('postgres', () => use('health', once, async (session) => void (await session.client.query('SELECT 1')))),
    gifs: new PgGifStore({
      // No retry: had the INSERT committed before the connection broke, the name is simply never used.
      insert: async (name, bytes, storedAt) => {
        await run('saveGif', once, 'insertGif', [name, bytes, storedAt]);
      },
      select: async (name) => {
        const row = (await run<{ bytes: Buffer; created_at: number }>('readGif', idempotent, 'selectGif', [name])).rows[0];
        return row ? { bytes: row.bytes, storedAt: row.created_at } : undefined;
      },
      delete: async (names) => {
        await run('removeGifs', idempotent, 'deleteGifs', [names]);
      },
    }),
    close: () => {
      if (closing === undefined) {
        closed = true;
        closing = pool.end().catch((err: unknown) => {
          throw failure('close', err);
        });
      }
      return closing;
    },
  };
}
