/**
 * Uploads under abuse, against a real server on 127.0.0.1: stalled bodies, many uploads at
 * once, one user's uploads past their share, a day's quota. Each loop is bounded and each
 * test stops by itself (the server's clocks are set short).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { TestClient, sleep } from '../helpers/client';
import { makeGif } from '../helpers/gif';
import { Limiter } from '../../src/limits/limiter';
import { createMemoryLimiter } from '../../src/limits/memory-limiter';
import { fail } from '../../src/protocol/errors';
import { silentLogger } from '../../src/logger';
import { openPgStore } from '../../src/store/pg-store';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { FileGifStore } from '../../src/store/file-gif-store';
import { GifStore } from '../../src/store/gif-store';
import { faultyStore } from '../helpers/faulty-store';
import { PostgresServer, startPostgres } from '../helpers/services';
import { browserSession, startServer, tempDataDir, TestServer } from '../helpers/server';

const BOUNDARY = 'gifchatabuse';

/** What an upload got: the response (when one came) or the error that ended it. */
interface Outcome {
  status?: number;
  headers?: http.IncomingHttpHeaders;
  body?: any;
  error?: string;
}

/**
 * Starts `POST /room/:id/gif` by hand: the part's headers and `bytes`; with `stall`, the body
 * then stops (its declared length is never reached), as a slow or hostile client's does.
 */
function startUpload(s: TestServer, room: string, cookie: string, bytes: Buffer, stall: boolean) {
  const head = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="gif"; filename="a.gif"\r\nContent-Type: image/gif\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  const length = head.length + bytes.length + tail.length + (stall ? 1024 * 1024 : 0);
  const req = http.request(`${s.url}/room/${room}/gif`, {
    method: 'POST',
    agent: false,
    headers: { cookie, origin: s.url, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(length) },
  });
  const outcome = new Promise<Outcome>((resolve) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        resolve({ status: res.statusCode, headers: res.headers, body });
      };
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
  });
  req.write(head);
  req.write(bytes);
  if (!stall) req.end(tail);
  return { outcome, abort: () => req.destroy() };
}

/** A guest with a session cookie, joined to `room` over a socket (membership is presence). */
async function guest(s: TestServer, room?: string) {
  const { cookie } = await browserSession(s.url);
  const socket = await TestClient.connect(s.wsUrl, { headers: { cookie } });
  if (room) await socket.request('join', { room });
  return { cookie, socket };
}

const files = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
const tempFiles = (s: TestServer) => files(path.join(s.dataDir, 'tmp'));
const stored = (s: TestServer) => files(path.join(s.dataDir, 'uploads'));

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

describe('uploads under abuse', () => {
  test('200 stalled uploads at once (tried: each sends its part header and 2 KiB, then nothing): UPLOADS_AT_ONCE are received into temp files and cut with 408 too_slow, the rest refused at once with 503 unavailable + Retry-After; no temp file stays', async () => {
    const s = await startServer({ uploadIdleMs: 3000, uploadsPerUser: 1000, uploadsAtOnce: 64 });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'stall' });
    await socket.request('join', { room: room.id });
    const gif = makeGif(96).subarray(0, 2048);
    const uploads = Array.from({ length: 200 }, () => startUpload(s, room.id, cookie, gif, true));
    // While they stall, at most UPLOADS_AT_ONCE temp files exist (the bytes are on disk, not in memory).
    let settled = false;
    const all = Promise.all(uploads.map((u) => u.outcome)).finally(() => (settled = true));
    let most = 0;
    while (!settled) {
      most = Math.max(most, tempFiles(s).length);
      await sleep(25);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(64);
    const outcomes = await all;
    const count = (status: number) => outcomes.filter((o) => o.status === status).length;
    // Each was answered: cut for stalling (408), or refused for want of a place (503).
    expect(count(408) + count(503)).toBe(200);
    expect(count(408)).toBeGreaterThan(0);
    expect(count(503)).toBeGreaterThan(0);
    const cut = outcomes.find((o) => o.status === 408)!;
    expect(cut.body.error.code).toBe('too_slow');
    const busy = outcomes.find((o) => o.status === 503)!;
    expect(busy.body.error).toMatchObject({ code: 'unavailable', retryAfterMs: expect.any(Number) });
    expect(Number(busy.headers!['retry-after'])).toBeGreaterThanOrEqual(1);
    await until(() => tempFiles(s).length === 0);
    expect(stored(s)).toEqual([]);
    // The server is fine afterwards: a whole GIF goes through.
    const ok = await startUpload(s, room.id, cookie, makeGif(32), false).outcome;
    expect(ok.status).toBe(201);
    expect(tempFiles(s)).toEqual([]);
  });

  test('a body that trickles (tried: a byte every 100 ms, never idle) is cut at UPLOAD_TIMEOUT_MS with 408 too_slow, its temp file removed', async () => {
    const s = await startServer({ uploadIdleMs: 1000, uploadTimeoutMs: 2000 });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'trickle' });
    await socket.request('join', { room: room.id });
    const head = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="gif"; filename="a.gif"\r\nContent-Type: image/gif\r\n\r\n`);
    const req = http.request(`${s.url}/room/${room.id}/gif`, {
      method: 'POST',
      agent: false,
      headers: { cookie, origin: s.url, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(head.length + 10_000) },
    });
    const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', reject);
    });
    req.write(head);
    req.write(makeGif(96).subarray(0, 16));
    let answered = false;
    void response.finally(() => (answered = true)).catch(() => {});
    for (let i = 0; i < 100 && !answered; i++) {
      await sleep(100);
      if (!answered && !req.destroyed) req.write(Buffer.from([0]));
    }
    expect(await response).toMatchObject({ status: 408, body: { error: { code: 'too_slow' } } });
    await until(() => tempFiles(s).length === 0);
  });

  test('a client that aborts its upload halfway leaves no temp file (tried: 20 uploads destroyed mid-body)', async () => {
    const s = await startServer({ uploadsPerUser: 100 });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'abort' });
    await socket.request('join', { room: room.id });
    const uploads = Array.from({ length: 20 }, () => startUpload(s, room.id, cookie, makeGif(96).subarray(0, 4096), true));
    await until(() => tempFiles(s).length === 20);
    for (const u of uploads) u.abort();
    await until(() => tempFiles(s).length === 0);
    expect(stored(s)).toEqual([]);
  });

  test('the room and membership are checked before the body is read (tried: a non-member and an unknown room, each with a stalled body)', async () => {
    const s = await startServer({ uploadIdleMs: 60_000 });
    const owner = await guest(s);
    const room = await owner.socket.request('create', { title: 'members' });
    const stranger = await guest(s);
    const started = Date.now();
    const forbidden = await startUpload(s, room.id, stranger.cookie, makeGif(96).subarray(0, 2048), true).outcome;
    expect(forbidden).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    const missing = await startUpload(s, 'r_nope', stranger.cookie, makeGif(96).subarray(0, 2048), true).outcome;
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    // Answered without waiting for the body (the idle clock is a minute).
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(tempFiles(s)).toEqual([]);
  });

  test('one user gets UPLOADS_PER_USER uploads at once (tried: a third while two stall): 429 rate_limited with retryAfterMs; once those end, uploads go through again', async () => {
    const s = await startServer({ uploadIdleMs: 1000 });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'share' });
    await socket.request('join', { room: room.id });
    const other = await guest(s, room.id);
    const stalled = [0, 1].map(() => startUpload(s, room.id, cookie, makeGif(96).subarray(0, 2048), true));
    await until(() => tempFiles(s).length === 2);
    const third = await startUpload(s, room.id, cookie, makeGif(32), false).outcome;
    expect(third.status).toBe(429);
    expect(third.body.error).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    expect(third.headers!['retry-after']).toBeDefined();
    // Another user is not held back by it.
    expect((await startUpload(s, room.id, other.cookie, makeGif(32), false).outcome).status).toBe(201);
    for (const u of stalled) expect((await u.outcome).status).toBe(408);
    expect((await startUpload(s, room.id, cookie, makeGif(32), false).outcome).status).toBe(201);
    await until(() => tempFiles(s).length === 0);
  });

  test('a day\'s quota per user: UPLOADS_PER_DAY uploads, then 429 rate_limited with a retry time; UPLOAD_BYTES_PER_DAY likewise, the refused file removed', async () => {
    const gif = makeGif(32);
    const s = await startServer({ uploadsPerDay: 3, uploadBytesPerDay: 2 * gif.length + 100, maxUploadBytes: 2 * gif.length });
    const a = await guest(s);
    const room = await a.socket.request('create', { title: 'quota' });
    await a.socket.request('join', { room: room.id });
    const b = await guest(s, room.id);
    // Bytes: two GIFs fit the day's bytes, the third does not (it was received, then refused and removed).
    expect((await startUpload(s, room.id, a.cookie, gif, false).outcome).status).toBe(201);
    expect((await startUpload(s, room.id, a.cookie, gif, false).outcome).status).toBe(201);
    const bytes = await startUpload(s, room.id, a.cookie, gif, false).outcome;
    expect(bytes.status).toBe(429);
    expect(bytes.body.error).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    expect(Number(bytes.headers!['retry-after'])).toBeGreaterThan(0);
    expect(stored(s)).toHaveLength(2);
    // Count: the third upload of the day was counted (an attempt), so the fourth is refused before its body.
    const count = await startUpload(s, room.id, a.cookie, gif, false).outcome;
    expect(count.status).toBe(429);
    expect(count.body.error.retryAfterMs).toBeGreaterThan(60_000);
    expect(stored(s)).toHaveLength(2);
    // Another user has their own quota.
    expect((await startUpload(s, room.id, b.cookie, gif, false).outcome).status).toBe(201);
    await until(() => tempFiles(s).length === 0);
  });

  test('past STORAGE_MAX_BYTES (tried: a budget the database alone exceeds): messages get storage_full, uploads 507 storage_full before their body; reads keep working', async () => {
    const s = await startServer({ storageMaxBytes: 1 });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'full' });
    await socket.request('join', { room: room.id });
    await expect(socket.request('message', { room: room.id, text: 'hello' })).rejects.toMatchObject({ code: 'storage_full' });
    const upload = await startUpload(s, room.id, cookie, makeGif(32), false).outcome;
    expect(upload).toMatchObject({ status: 507, body: { error: { code: 'storage_full' } } });
    expect(tempFiles(s)).toEqual([]);
    expect(stored(s)).toEqual([]);
    // Reads work: history, the lobby, the room page.
    expect(Array.isArray(await socket.request('history', { room: room.id }))).toBe(true);
    expect((await socket.request('chatrooms')).rooms.some((r: any) => r.id === room.id)).toBe(true);
    expect((await fetch(`${s.url}/room/${room.id}`, { headers: { cookie } })).status).toBe(200);
  });

  test('uploads that fill the budget (tried: GIFs posted until refused) turn it full within a few seconds: then 507 storage_full and messages refused', async () => {
    const first = await startServer();
    const size = () => first.app.store.usage();
    const base = await size();
    await first.stop();
    const gif = makeGif(400);
    const s = await startServer({ dataDir: first.dataDir, storageMaxBytes: base + 256 * 1024 + 3 * gif.length });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'filling' });
    await socket.request('join', { room: room.id });
    let refused: Outcome | undefined;
    for (let i = 0; i < 60 && !refused; i++) {
      const outcome = await startUpload(s, room.id, cookie, gif, false).outcome;
      if (outcome.status !== 201) refused = outcome;
      else await sleep(250);
    }
    expect(refused).toMatchObject({ status: 507, body: { error: { code: 'storage_full' } } });
    await expect(socket.request('message', { room: room.id, text: 'still?' })).rejects.toMatchObject({ code: 'storage_full' });
    expect((await socket.request('history', { room: room.id })).length).toBeGreaterThan(0);
  });

  test('malformed bodies get 400 no_file, never an error page (tried: no boundary, a cut-off form, not multipart)', async () => {
    const s = await startServer();
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'bad' });
    await socket.request('join', { room: room.id });
    const post = (type: string, body: string) => fetch(`${s.url}/room/${room.id}/gif`, { method: 'POST', body, headers: { cookie, origin: s.url, 'content-type': type } });
    for (const [type, body] of [
      ['multipart/form-data', 'GIF89a'],
      [`multipart/form-data; boundary=${BOUNDARY}`, `--${BOUNDARY}\r\nContent-Disposition: form-data; name="gif"; filename="a.gif"\r\n\r\nGIF89a`],
      ['application/json', '{"gif":"GIF89a"}'],
    ]) {
      const res = await post(type, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.code).toBe('no_file');
    }
    await until(() => tempFiles(s).length === 0);
  });

  test('a GIF store that never answers (tried: saveFile hanging) cannot hold places: the upload is cut at UPLOAD_TIMEOUT_MS and its places are given back', async () => {
    const dataDir = tempDataDir();
    const files = new FileGifStore(path.join(dataDir, 'uploads'));
    let hang = true;
    // The real file store, whose saves can be made to hang (as a stuck disk or database would).
    const gifs: GifStore = {
      save: (bytes) => files.save(bytes),
      saveFile: (file) => (hang ? new Promise<string>(() => {}) : files.saveFile(file)),
      read: (name) => files.read(name),
      remove: (urls) => files.remove(urls),
      usage: () => files.usage(),
    };
    const store = Object.assign(faultyStore(openSqliteStore(path.join(dataDir, 'gif-chat.db'))), { gifs });
    const s = await startServer({ dataDir, uploadTimeoutMs: 1500, uploadsPerUser: 1 }, { store });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'stuck' });
    await socket.request('join', { room: room.id });
    const stuck = await startUpload(s, room.id, cookie, makeGif(32), false).outcome;
    expect(stuck).toMatchObject({ status: 408, body: { error: { code: 'too_slow' } } });
    hang = false;
    // The user's one place is free again.
    expect((await startUpload(s, room.id, cookie, makeGif(32), false).outcome).status).toBe(201);
  });

  test('a limiter that cannot be reached refuses uploads with 503 unavailable (tried: the upload keys failing); the limit is not waived', async () => {
    const real = createMemoryLimiter();
    const down = () => Promise.reject(fail.unavailable('limiter is unreachable'));
    // A real limiter whose upload keys fail, as a Redis limiter's do when Redis is down.
    const limiter: Limiter = {
      ...real,
      take: (key, rates, cost) => (key.startsWith('upload') ? down() : real.take(key, rates, cost)),
      acquire: (key, max) => (key.startsWith('upload') ? down() : real.acquire(key, max)),
    };
    const s = await startServer({}, { limiter });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'down' });
    await socket.request('join', { room: room.id });
    const outcome = await startUpload(s, room.id, cookie, makeGif(32), false).outcome;
    expect(outcome).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
    expect(outcome.headers!['retry-after']).toBeDefined();
    expect(stored(s)).toEqual([]);
    await real.close();
  });

  test('temp files left by a crash are removed at start-up; those of another live process are not', async () => {
    const first = await startServer();
    const tmp = path.join(first.dataDir, 'tmp');
    await first.stop();
    fs.writeFileSync(path.join(tmp, `${process.pid}-leftover.part`), 'x');
    const old = path.join(tmp, '1-old.part');
    fs.writeFileSync(old, 'x');
    const long = new Date(Date.now() - 24 * 3_600_000);
    fs.utimesSync(old, long, long);
    fs.writeFileSync(path.join(tmp, '2-live.part'), 'x');
    const s = await startServer({ dataDir: first.dataDir });
    expect(tempFiles(s)).toEqual(['2-live.part']);
  });
});

describe('uploads on PostgreSQL (GIF bytes in the database)', () => {
  let pg: PostgresServer;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });

  test('an upload streams to a temp file, is read into the database and served from it; stalled ones are cut; no temp file stays; the budget counts the database', async () => {
    const store = await openPgStore(pg.createDatabase('up').url, { logger: silentLogger });
    const s = await startServer({ uploadIdleMs: 1000 }, { store });
    const { cookie, socket } = await guest(s);
    const room = await socket.request('create', { title: 'pg' });
    await socket.request('join', { room: room.id });
    const gif = makeGif(64);
    const stalled = startUpload(s, room.id, cookie, gif.subarray(0, 1024), true);
    const posted = await startUpload(s, room.id, cookie, gif, false).outcome;
    expect(posted.status).toBe(201);
    const served = await fetch(s.url + posted.body.gif);
    expect(Buffer.from(await served.arrayBuffer()).equals(gif)).toBe(true);
    expect((await stalled.outcome).status).toBe(408);
    await until(() => tempFiles(s).length === 0);
    expect(stored(s)).toEqual([]);
    expect(await store.usage()).toBeGreaterThan(gif.length);
  });
});
