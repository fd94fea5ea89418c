import type { ClientBase } from 'pg';

/**
 * The PostgreSQL store's schema, as numbered SQL migrations: migration N is
 * `pgMigrations[N - 1]`, recorded in `schema_migrations` once applied. Every database goes
 * through the same steps, so all end with the same schema. Append only: never edit a
 * migration that has shipped.
 *
 * Only what an ordinary role owning its database may do: tables and indexes in the default
 * schema; no extensions, no superuser.
 *
 * Tables mirror the SQLite store's (src/store/sqlite-store.ts). Times are ms since the epoch
 * in bigint columns (read back as JS numbers). Ids compare bytewise (COLLATE "C"): cheaper
 * than a language collation, and the order rooms are locked in is the same on every server
 * whatever its locale.
 */
export const pgMigrations: readonly string[] = [
  // 1. Rooms with their seq counter, entries, kick bans, HTTP sessions.
  `
CREATE TABLE rooms (
  id text COLLATE "C" PRIMARY KEY,
  title text NOT NULL,
  max integer NOT NULL,
  password_hash text,
  owner_id text COLLATE "C" NOT NULL,
  owner_name text NOT NULL,
  owner_color text NOT NULL,
  created_at bigint NOT NULL,
  last_seq bigint NOT NULL DEFAULT 0,
  last_activity bigint NOT NULL,
  owner_away_since bigint,
  -- Creation order, for rooms created in the same millisecond (SQLite's rowid).
  created_order bigint GENERATED ALWAYS AS IDENTITY
) WITH (fillfactor = 50); -- room for the counter's updates to stay on their page (HOT: no index writes)
CREATE INDEX rooms_owner ON rooms (owner_id);

CREATE TABLE entries (
  room_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  kind text,
  user_id text COLLATE "C" NOT NULL,
  user_name text NOT NULL,
  user_color text NOT NULL,
  text text,
  gif text,
  nonce text COLLATE "C",
  ts bigint NOT NULL,
  PRIMARY KEY (room_id, seq)
);
-- Unique per (room, user, nonce). The nonce before the user, as in SQLite: clients' nonces
-- start with the time, so new keys land at the end of the room's part of the index.
CREATE UNIQUE INDEX entries_nonce ON entries (room_id, nonce, user_id) WHERE nonce IS NOT NULL;

CREATE TABLE bans (
  room_id text COLLATE "C" NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  until bigint NOT NULL,
  PRIMARY KEY (room_id, user_id)
);

CREATE TABLE sessions (
  sid text COLLATE "C" PRIMARY KEY,
  json text NOT NULL,
  expires bigint NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires);
`,
  // 2. GIF bytes in the database (any process serves any GIF); HTTP sessions in the table
  // connect-pg-simple reads and writes (its own table.sql), carrying over existing sessions.
  `
CREATE TABLE gifs (
  name text COLLATE "C" PRIMARY KEY,
  bytes bytea NOT NULL,
  created_at bigint NOT NULL
);
-- GIFs are compressed already: keep them out of line without trying to compress them again.
ALTER TABLE gifs ALTER COLUMN bytes SET STORAGE EXTERNAL;

CREATE TABLE session (
  sid varchar NOT NULL COLLATE "default",
  sess json NOT NULL,
  expire timestamp(6) NOT NULL
);
ALTER TABLE session ADD CONSTRAINT session_pkey PRIMARY KEY (sid) NOT DEFERRABLE INITIALLY IMMEDIATE;
CREATE INDEX "IDX_session_expire" ON session (expire);
INSERT INTO session (sid, sess, expire)
  SELECT sid, json::json, to_timestamp(expires / 1000.0)::timestamp FROM sessions;
DROP TABLE sessions;
`,
  // 3. A GIF's size in pixels, for clients to reserve its box (older entries have none).
  `
ALTER TABLE entries ADD COLUMN gif_width integer, ADD COLUMN gif_height integer;
`,
  // 4. Bans by end: kicks ban the client's addresses too (subject '@<address>'), so there
  // are more of them to prune. (Rooms by owner, for the ROOMS_PER_USER quota: rooms_owner, since 1.)
  `
CREATE INDEX bans_until ON bans (until);
`,
];

/** The schema version this code reads and writes. */
export const PG_SCHEMA_VERSION = pgMigrations.length;

/**
 * The advisory lock every server takes while it migrates ('gifchat' in ASCII): servers
 * starting at once migrate one after another, and all but the first find nothing to do.
 * Advisory locks are per database, so databases sharing a cluster do not wait on each other.
 */
export const MIGRATION_LOCK_KEY = '29107811076563316';

/**
 * Brings the database up to PG_SCHEMA_VERSION: every missing migration and its record in
 * one transaction, under the advisory lock. Resolves with the versions it applied (none
 * when the schema was up to date). Throws when the database's schema is newer than this
 * code's. The caller owns `client` and releases it.
 */
export async function migratePostgres(client: ClientBase): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    const applied = new Set(rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...applied);
    if (newest > PG_SCHEMA_VERSION) {
      throw new Error(`the database's schema (version ${newest}) is newer than this server's (${PG_SCHEMA_VERSION})`);
    }
    const done: number[] = [];
    for (let version = 1; version <= PG_SCHEMA_VERSION; version++) {
      if (applied.has(version)) continue;
      await client.query(pgMigrations[version - 1]);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      done.push(version);
    }
    await client.query('COMMIT');
    return done;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
