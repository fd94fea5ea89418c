import { Client } from 'pg';
import { ChatError } from '../../src/protocol/errors';
import { silentLogger } from '../../src/logger';
import { openPgSessionStore } from '../../src/sessions/pg-session-store';
import { openPgStore } from '../../src/store/pg-store';
import { Store } from '../../src/store/store';
import { TestClient } from '../helpers/client';
import { browserSession, startServer, tempDataDir } from '../helpers/server';
import { PostgresServer, startPostgres } from '../helpers/services';

// One throwaway PostgreSQL for the file; each test gets a database of its own.
let pg: PostgresServer;
const opened: { close(): Promise<void> }[] = [];
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const part of opened.reverse()) await part.close().catch(() => {});
  await pg?.stop();
}, 30_000);

const freshDatabase = () => pg.createDatabase('s').url;
const call = <T>(fn: (cb: (err: unknown, value?: T) => void) => void) =>
  new Promise<T | undefined>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
const caught = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  );
async function rows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('sessions on PostgreSQL (connect-pg-simple)', () => {
  let url: string;
  let store: Store;
  beforeEach(async () => {
    url = freshDatabase();
    store = await openPgStore(url, { logger: silentLogger }); // runs the migrations
    opened.push(store);
  });

  test('pages (express-session) and sockets (the Store) read and write the same rows', async () => {
    const sessions = openPgSessionStore(url, silentLogger);
    opened.push(sessions);
    const expires = new Date(Date.now() + 60_000);
    const data = { cookie: { originalMaxAge: 60_000, expires, httpOnly: true, path: '/' }, user: { id: 'u_1', name: 'Ann', color: '#000' } } as any;
    await call((cb) => sessions.set('sid-1', data, cb));
    expect(JSON.parse((await store.getSession('sid-1', Date.now()))!)).toMatchObject({ user: { id: 'u_1', name: 'Ann' } });
    await store.setSession('sid-2', JSON.stringify({ ...data, user: { id: 'u_2', name: 'Bo', color: '#111' } }), expires.getTime());
    expect(await call<any>((cb) => sessions.get('sid-2', cb))).toMatchObject({ user: { id: 'u_2', name: 'Bo' } });
    // Both see the same expiry (connect-pg-simple rounds it up to the second).
    expect(await store.getSession('sid-1', expires.getTime() - 1)).toBeDefined();
    expect(await store.getSession('sid-1', expires.getTime() + 1000)).toBeUndefined();
    await call((cb) => sessions.destroy('sid-1', cb));
    expect(await store.getSession('sid-1', Date.now())).toBeUndefined();
    expect(await rows(url, 'SELECT sid FROM session ORDER BY sid')).toEqual([{ sid: 'sid-2' }]);
  });

  test('PostgreSQL stopped: session reads and writes fail fast as unavailable, never a driver error; back: they work', async () => {
    const sessions = openPgSessionStore(url, silentLogger);
    opened.push(sessions);
    await call((cb) => sessions.set('a', { cookie: { originalMaxAge: 1000, expires: new Date(Date.now() + 60_000) } } as any, cb));
    await pg.halt();
    try {
      const started = Date.now();
      const err = await caught(call((cb) => sessions.get('a', cb)));
      expect(err).toBeInstanceOf(ChatError);
      expect(err).toMatchObject({ code: 'unavailable' });
      expect(await caught(call((cb) => sessions.set('b', { cookie: { originalMaxAge: 1000 } } as any, cb)))).toMatchObject({ code: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      await pg.start();
    }
    expect(await call((cb) => sessions.get('a', cb))).toBeDefined();
  });

  test('an app on DATABASE_URL keeps page sessions in PostgreSQL: the socket is the page\'s user; a stopped database is a 503 page', async () => {
    const s = await startServer({ databaseUrl: url, dataDir: tempDataDir() });
    const { cookie, html } = await browserSession(s.url);
    const stored = await rows(url, 'SELECT sess::text AS json FROM session');
    expect(stored).toHaveLength(1);
    const user = JSON.parse(stored[0].json as string).user;
    expect(html).toContain(user.name);
    const socket = await TestClient.connect(s.wsUrl, { headers: { cookie, origin: s.url } });
    expect(socket.user).toEqual(user);
    await pg.halt();
    try {
      const page = await fetch(`${s.url}/`, { headers: { cookie } });
      expect(page.status).toBe(503);
      expect(page.headers.get('retry-after')).toBe('5');
      expect(await page.text()).toMatch(/unavailable/);
    } finally {
      await pg.start();
    }
    const again = await fetch(`${s.url}/`, { headers: { cookie } });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain(user.name);
  });
});
