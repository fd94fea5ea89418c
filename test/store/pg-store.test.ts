import { Client, types as pgTypes } from 'pg';
import { silentLogger } from '../../src/logger';
import { ChatError } from '../../src/protocol/errors';
import { UserInfo } from '../../src/protocol/types';
import { PG_SCHEMA_VERSION } from '../../src/store/migrations';
import { openPgStore, PgStoreOptions } from '../../src/store/pg-store';
import { AppendOp, AppendResult, Store } from '../../src/store/store';
import { WriteBatcher } from '../../src/store/write-batcher';
import { freePort, PostgresServer, startPostgres } from '../helpers/services';
import { makeGif } from '../helpers/gif';
import { gifStoreContract } from './gif-store-contract';
import { storeContract } from './store-contract';

// One throwaway PostgreSQL for the whole file; each test gets a database of its own.
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

const freshDatabase = () => pg.createDatabase('t');
const open = async (url: string, options: PgStoreOptions = {}) => {
  const store = await openPgStore(url, { logger: silentLogger, ...options });
  opened.push(store);
  return store;
};

gifStoreContract('postgres', async () => {
  const { url } = freshDatabase();
  const store = await open(url);
  return { gifs: store.gifs!, other: async () => (await open(url)).gifs! };
});

storeContract('postgres', async () => {
  const { url } = freshDatabase();
  return { store: await open(url), reopen: () => open(url), second: () => open(url) };
});

const alice = { id: 'u_a', name: 'Alice', color: '#c0392b' };
const bob = { id: 'u_b', name: 'Bob', color: '#2980b9' };
const room = (id: string, owner: UserInfo = alice) => ({ id, title: id, max: 10, passwordHash: null, owner, createdAt: 1 });
const message = (r: string, text: string, nonce?: string, user: UserInfo = alice): AppendOp => ({
  entry: nonce === undefined ? { room: r, user, text, ts: 1 } : { room: r, user, text, ts: 1, nonce },
});
const seqOf = (result: AppendResult) => ('entry' in result ? result.entry.seq : result.refused);
const caught = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** The room's seqs as stored, and whether they are exactly 1..lastSeq. */
async function checkLog(store: Store, id: string): Promise<number[]> {
  const seqs = (await store.entriesAfter(id, 0, 100_000)).map((e) => e.seq);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  expect((await store.room(id))?.lastSeq).toBe(seqs.length);
  return seqs;
}

function expectUnavailable(err: unknown): void {
  expect(err).toBeInstanceOf(ChatError);
  expect((err as ChatError).code).toBe('unavailable');
  expect((err as ChatError).message).toMatch(/^storage is unavailable: /);
}

describe('postgres store: schema', () => {
  test('servers opening at once apply each migration once; a reopen applies nothing', async () => {
    const { url } = freshDatabase();
    const stores = await Promise.all([open(url), open(url), open(url)]);
    const applied = await query<{ version: number; applied_at: Date }>(url, 'SELECT version, applied_at FROM schema_migrations ORDER BY version');
    expect(applied.map((r) => r.version)).toEqual(Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1));
    await stores[0].createRoom(room('r'));
    expect(await stores[2].room('r')).toMatchObject({ id: 'r', lastSeq: 0 });
    for (const store of stores) await store.close();
    const again = await open(url);
    expect(await query(url, 'SELECT version, applied_at FROM schema_migrations ORDER BY version')).toEqual(applied);
    expect(await again.room('r')).toMatchObject({ id: 'r' });
    await again.close();
  });

  test('an ordinary role owning its database is enough: no superuser, no extensions', async () => {
    const { url } = freshDatabase();
    const store = await open(url);
    const [role] = await query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
      url,
      'SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user',
    );
    expect(role).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false });
    expect((await query<{ extname: string }>(url, 'SELECT extname FROM pg_extension')).map((r) => r.extname)).toEqual(['plpgsql']);
    const owners = await query<{ tableowner: string }>(url, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'");
    expect(owners).toEqual([{ tableowner: 'chat' }]);
    await store.close();
  });

  test('a database whose schema is newer than the code is refused with a plain error', async () => {
    const { url } = freshDatabase();
    await (await open(url)).close();
    await query(url, `INSERT INTO schema_migrations (version) VALUES (${PG_SCHEMA_VERSION + 1})`);
    const err = await caught(open(url));
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ChatError);
    expect((err as Error).message).toMatch(/newer than this server's/);
  });

  test('ms timestamps are bigints read back as numbers, without touching pg’s global parsers', async () => {
    const { url } = freshDatabase();
    const store = await open(url);
    const now = Date.now();
    await store.createRoom({ ...room('r'), createdAt: now });
    await store.append([{ entry: { room: 'r', user: alice, text: 'x', ts: now + 1 } }]);
    const stored = await store.room('r');
    expect(stored).toMatchObject({ createdAt: now, lastActivity: now + 1, lastSeq: 1 });
    expect(typeof stored?.lastSeq).toBe('number');
    expect((await store.entriesAfter('r', 0, 1))[0].ts).toBe(now + 1);
    expect(await store.roomCount()).toBe(1);
    expect(pgTypes.getTypeParser(20)('12')).toBe('12');
    await store.close();
  });

  test('a database that cannot be reached fails the open as unavailable, at once', async () => {
    const port = await freePort();
    const started = Date.now();
    expectUnavailable(await caught(open(`postgres://chat:chat@127.0.0.1:${port}/chat`)));
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('postgres store: concurrency', () => {
  test('two handles appending to the same rooms in opposite orders never deadlock', async () => {
    const { url } = freshDatabase();
    const one = await open(url);
    const two = await open(url);
    for (const id of ['a', 'b', 'c']) await one.createRoom(room(id));
    const pending: Promise<AppendResult[]>[] = [];
    for (let i = 0; i < 40; i++) {
      pending.push(one.append([message('a', `1-${i}`), message('b', `1-${i}`), message('c', `1-${i}`)]));
      pending.push(two.append([message('c', `2-${i}`), message('b', `2-${i}`), message('a', `2-${i}`)]));
    }
    await Promise.all(pending);
    for (const id of ['a', 'b', 'c']) expect(await checkLog(one, id)).toHaveLength(80);
    await one.close();
    await two.close();
  });

  test('a nonce committed by another server while the batch waits is a duplicate, not an error, and uses no seq', async () => {
    const { url } = freshDatabase();
    const store = await open(url);
    await store.createRoom(room('r'));
    // Another server's transaction (one that took no room lock) holds the same (room, nonce, user) uncommitted.
    const other = new Client({ connectionString: url });
    await other.connect();
    await other.query('BEGIN');
    await other.query(
      `INSERT INTO entries (room_id, seq, kind, user_id, user_name, user_color, text, gif, nonce, ts) VALUES ('r', 1000, NULL, 'u_a', 'Alice', '#c0392b', 'elsewhere', NULL, 'race', 5)`,
    );
    let settled = false;
    const pending = store.append([message('r', 'mine', 'race'), message('r', 'other', undefined, bob)]).finally(() => {
      settled = true;
    });
    await sleep(300);
    expect(settled).toBe(false); // waiting on the unique index
    await other.query('COMMIT');
    await other.end();
    const results = await pending;
    expect(results[0]).toEqual({ entry: { room: 'r', seq: 1000, user: alice, text: 'elsewhere', ts: 5, nonce: 'race' }, duplicate: true });
    expect(seqOf(results[1])).toBe(1);
    expect((await store.room('r'))?.lastSeq).toBe(1);
    await store.close();
  });

  test('a room locked too long fails the append as unavailable after the statement timeout, writing nothing', async () => {
    const { url } = freshDatabase();
    const store = await open(url, { statementTimeoutMs: 300 });
    await store.createRoom(room('r'));
    const other = new Client({ connectionString: url });
    await other.connect();
    await other.query('BEGIN');
    await other.query(`SELECT * FROM rooms WHERE id = 'r' FOR UPDATE`);
    const started = Date.now();
    expectUnavailable(await caught(store.append([message('r', 'blocked')])));
    expect(Date.now() - started).toBeLessThan(2000);
    await other.query('ROLLBACK');
    await other.end();
    expect((await store.append([message('r', 'free')])).map(seqOf)).toEqual([1]);
    await checkLog(store, 'r');
    await store.close();
  });
});

describe('postgres store: faults', () => {
  test('terminated backends: the next append succeeds or fails as unavailable, the one after succeeds; no seq skipped', async () => {
    const { url, name } = freshDatabase();
    const store = await open(url, { poolSize: 4 });
    await store.createRoom(room('r'));
    let committed = 0;
    for (let round = 0; round < 5; round++) {
      // Several pooled connections, idle, then all of them killed.
      await Promise.all([store.room('r'), store.entriesAfter('r', 0, 1), store.roomCount(), store.append([message('r', `warm ${round}`)])]);
      committed++;
      pg.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'chat' AND datname = '${name}'`);
      const next = await caught(store.append([message('r', `next ${round}`)]));
      if (next === undefined) committed++;
      else expectUnavailable(next);
      await store.append([message('r', `after ${round}`)]);
      committed++;
    }
    expect(await checkLog(store, 'r')).toHaveLength(committed);
    await store.close();
  });

  test('backends terminated under a stream of batched appends: every ack is stored once, a resend of a failed one is stored once, seqs have no gap', async () => {
    const { url, name } = freshDatabase();
    const store = await open(url, { poolSize: 4 });
    const batcher = new WriteBatcher(store, silentLogger);
    const rooms = ['a', 'b', 'c'];
    for (const id of rooms) await store.createRoom(room(id));
    const failed: AppendOp[] = [];
    const acked = new Map<string, number>();
    const sends: Promise<void>[] = [];
    const send = (op: AppendOp) =>
      batcher.append(op).then(
        (result) => {
          if (!('entry' in result)) throw new Error(`refused: ${JSON.stringify(result)}`);
          const nonce = (op.entry as { nonce: string }).nonce;
          if (acked.has(nonce) && acked.get(nonce) !== result.entry.seq) throw new Error(`nonce ${nonce} stored twice`);
          acked.set(nonce, result.entry.seq);
        },
        (err: unknown) => {
          expectUnavailable(err);
          failed.push(op);
        },
      );
    const stopAt = Date.now() + 1500;
    let kills = 0;
    let i = 0;
    const killer = (async () => {
      while (Date.now() < stopAt) {
        await sleep(100);
        pg.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'chat' AND datname = '${name}'`);
        kills++;
      }
    })();
    while (Date.now() < stopAt) {
      for (let k = 0; k < 20; k++, i++) sends.push(send(message(rooms[i % 3], `m${i}`, `n${i}`)));
      await sleep(5);
    }
    await killer;
    await Promise.all(sends);
    // The client's part: resend what failed, with the same nonce, until it is stored.
    while (failed.length > 0) {
      const again = failed.splice(0);
      await Promise.all(again.map(send));
    }
    expect(kills).toBeGreaterThan(5);
    expect(acked.size).toBe(i);
    let stored = 0;
    for (const id of rooms) {
      const entries = await store.entriesAfter(id, 0, 100_000);
      stored += entries.length;
      await checkLog(store, id);
      for (const e of entries) expect(acked.get((e as { nonce: string }).nonce)).toBe(e.seq);
    }
    expect(stored).toBe(i);
    await store.close();
  });

  test('PostgreSQL stopped: appends and reads fail fast as unavailable; started again: everything works, seqs continue', async () => {
    const { url } = freshDatabase();
    const store = await open(url);
    const batcher = new WriteBatcher(store, silentLogger);
    await store.createRoom(room('r'));
    await store.append([message('r', 'one'), message('r', 'two', 'n2')]);
    const servedBefore = (await store.gifs!.save(makeGif(10))).slice('/gif/'.length);
    await store.gifs!.read(servedBefore);
    await pg.halt();
    try {
      let started = Date.now();
      // GIFs: a new one cannot be stored or read; one served a moment ago still is (from the cache).
      expectUnavailable(await caught(store.gifs!.save(makeGif(11))));
      expectUnavailable(await caught(store.gifs!.read('AAAAAAAAAAAAAAAAAAAAAA.gif')));
      expect((await store.gifs!.read(servedBefore))?.size).toBe(makeGif(10).length);
      expectUnavailable(await caught(store.append([message('r', 'three')])));
      const appendMs = Date.now() - started;
      started = Date.now();
      expectUnavailable(await caught(store.room('r')));
      expectUnavailable(await caught(store.entriesAfter('r', 0, 10)));
      expectUnavailable(await caught(store.getSession('s', 0)));
      const readMs = Date.now() - started;
      // A turn's worth of appends through the batcher: all told, soon.
      started = Date.now();
      const batch = await Promise.all(Array.from({ length: 50 }, (_, k) => caught(batcher.append(message('r', `b${k}`)))));
      const batchMs = Date.now() - started;
      for (const err of batch) expectUnavailable(err);
      expect(appendMs).toBeLessThan(3000);
      expect(readMs).toBeLessThan(3000);
      expect(batchMs).toBeLessThan(5000);
    } finally {
      await pg.start();
    }
    const [again] = await store.append([message('r', 'two', 'n2'), message('r', 'three')]).then((r) => [r.map(seqOf), r]);
    expect(again).toEqual([2, 3]);
    expect(await store.room('r')).toMatchObject({ lastSeq: 3 });
    const gifUrl = await store.gifs!.save(makeGif(12));
    expect((await store.gifs!.read(gifUrl.slice('/gif/'.length)))?.size).toBe(makeGif(12).length);
    await checkLog(store, 'r');
    await store.close();
  });
});
