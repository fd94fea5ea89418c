import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { createMemoryLimiter } from '../../src/limits/memory-limiter';
import { silentLogger } from '../../src/logger';
import type { Limiter } from '../../src/limits/limiter';
import { fail } from '../../src/protocol/errors';
import { sleep, TestClient } from '../helpers/client';
import { makeGif } from '../helpers/gif';
import { browserSession, startServer, tempDataDir, TestServer } from '../helpers/server';
import { openSqliteStore } from '../../src/store/sqlite-store';
import type { AppendOp } from '../../src/store/store';

/** How many session rows the store holds: all of them are "expired" at the end of time (the count empties the table). */
const countSessionRows = (s: TestServer) => s.app.store.pruneSessions(Number.MAX_SAFE_INTEGER);

const cookieOf = (res: Response) => res.headers.get('set-cookie')?.split(';')[0];

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('sessions', () => {
  test('cookieless requests (the lobby, a 404, health, a static file, a GIF) write no session row and set no cookie', async () => {
    // Tried: 500 requests without a cookie, as a crawler or a flood would send them.
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r' });
    await owner.request('join', { room: room.id });
    const upload = new FormData();
    upload.append('gif', new Blob([new Uint8Array(makeGif())], { type: 'image/gif' }), 'a.gif');
    const paths = ['/', '/nope', '/healthz', '/style.css', '/gif/nothing.gif', '/room/new'];
    for (let i = 0; i < 500; i++) {
      const res = await fetch(`${s.url}${paths[i % paths.length]}`);
      expect(cookieOf(res)).toBeUndefined();
      await res.arrayBuffer();
    }
    // A cookieless upload is refused (no session is no member) and makes no row either.
    const refused = await fetch(`${s.url}/room/${room.id}/gif`, { method: 'POST', body: upload });
    expect(refused.status).toBe(403);
    expect(await countSessionRows(s)).toBe(0);
    // A socket without a cookie is a guest, as before, and makes no row.
    const guest = await TestClient.connect(s.wsUrl);
    expect(await guest.request('register', { name: 'Passing' })).toMatchObject({ name: 'Passing' });
    expect(await countSessionRows(s)).toBe(0);
  });

  test('a page that needs an identity makes one row: the lobby script (POST /session), a room page', async () => {
    const s = await startServer();
    const { cookie, html } = await browserSession(s.url);
    expect(html).not.toContain('data-session="none"');
    const socket = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(html).toContain(socket.user.id);
    const lobby = await (await fetch(`${s.url}/`)).text();
    expect(lobby).toContain('data-session="none"');
    expect(await countSessionRows(s)).toBe(1);
    const room = await socket.request('create', { title: 'r' });
    const page = await fetch(`${s.url}/room/${room.id}`);
    expect(cookieOf(page)).toBeDefined();
    expect(await countSessionRows(s)).toBe(1);
  });

  test('SESSIONS_PER_HOUR: a script minting sessions from one address is refused with 429 and Retry-After past the rate; known visitors and reads are not', async () => {
    // Tried: 8 cookieless POST /session and room pages from one address, with a rate of 5 an hour.
    const s = await startServer({ sessionsPerHour: 5 });
    const { cookie } = await browserSession(s.url);
    const socket = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const room = await socket.request('create', { title: 'r' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${s.url}/session`, { method: 'POST', headers: { origin: s.url } })).status);
    const page = await fetch(`${s.url}/room/${room.id}`);
    statuses.push(page.status);
    expect(statuses).toEqual([204, 204, 204, 204, 429]);
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await page.text()).toMatch(/Too many new visitors from this address\. Try again in \d+ minutes/);
    expect((await fetch(`${s.url}/session`, { method: 'POST', headers: { origin: s.url } })).status).toBe(429);
    // A known visitor still gets their pages; anyone may still read the lobby.
    expect((await fetch(`${s.url}/room/${room.id}`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${s.url}/session`, { method: 'POST', headers: { origin: s.url, cookie } })).status).toBe(204);
    expect((await fetch(`${s.url}/`)).status).toBe(200);
    // Rows: the known visitor's and the 4 admitted (counted by pruning them all).
    expect(await countSessionRows(s)).toBe(5);
  });

  test('unlocking a room through the form gives the session a new id, keeping its user and grants; the old id is gone', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const locked = await owner.request('create', { title: 'locked', password: 'sesame' });
    const other = await owner.request('create', { title: 'other', password: 'other-pw' });
    const { cookie } = await browserSession(s.url);
    const before = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    await before.request('join', { room: other.id, password: 'other-pw' }); // a grant made over the socket
    await before.close();
    const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: s.url };
    const unlock = await fetch(`${s.url}/room/${locked.id}/unlock`, { method: 'POST', headers, body: form({ password: 'sesame' }), redirect: 'manual' });
    expect(unlock.status).toBe(303);
    const rotated = cookieOf(unlock)!;
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(cookie);
    const after = await TestClient.connect(s.wsUrl, { headers: { cookie: rotated } });
    expect(after.user).toEqual(before.user);
    // Both grants came along: no password asked for either room.
    await after.request('join', { room: locked.id });
    await after.request('join', { room: other.id });
    // The old id carries nothing any more.
    const stale = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(stale.user.id).not.toBe(before.user.id);
    await expect(stale.request('join', { room: locked.id })).rejects.toMatchObject({ code: 'forbidden' });
  });

  test('a rename over the socket rotates the id at the next page view, keeping the new name', async () => {
    const s = await startServer();
    const { cookie } = await browserSession(s.url);
    const tab = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    await tab.request('register', { name: 'Renamed' });
    const page = await fetch(`${s.url}/`, { headers: { cookie } });
    expect(await page.text()).toContain('Renamed');
    const rotated = cookieOf(page)!;
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(cookie);
    const again = await TestClient.connect(s.wsUrl, { headers: { cookie: rotated } });
    expect(again.user).toEqual({ ...tab.user, name: 'Renamed' });
    // Rotated once: the next view keeps the id.
    expect(cookieOf(await fetch(`${s.url}/`, { headers: { cookie: rotated } }))).toBeUndefined();
    expect(await countSessionRows(s)).toBe(1);
  });
});

/** Tries an upgrade: the open socket, or the HTTP status and Retry-After it was refused with. */
function tryUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ ws?: WebSocket; status?: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] as string | undefined });
      res.resume();
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Opens sockets until one is refused (at most `max` tries); the open ones and the refusal. */
async function openUntilRefused(url: string, max: number, headers: Record<string, string> = {}) {
  const open: WebSocket[] = [];
  for (let i = 0; i < max; i++) {
    const attempt = await tryUpgrade(url, headers);
    if (!attempt.ws) return { open, refused: attempt };
    open.push(attempt.ws);
  }
  return { open, refused: undefined };
}

const closed = (ws: WebSocket) => new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve())));

describe('sockets per address and per session', () => {
  const opened: WebSocket[] = [];
  afterEach(async () => {
    for (const ws of opened.splice(0)) ws.terminate();
  });

  test('SOCKETS_PER_IP: of 60 sockets from one address the 51st is refused with 429 and Retry-After; closing one frees a place', async () => {
    // Tried: 60 upgrades from 127.0.0.1 one after the other, holding each open.
    const warnings: string[] = [];
    const s = await startServer({}, { logger: { ...silentLogger, warn: (m: string) => warnings.push(m) } });
    const { open, refused } = await openUntilRefused(s.wsUrl, 60);
    opened.push(...open);
    expect(open).toHaveLength(50);
    expect(refused).toEqual({ status: 429, retryAfter: '10' });
    for (let i = 0; i < 9; i++) expect((await tryUpgrade(s.wsUrl)).status).toBe(429);
    // The refusals of one address are logged once a minute at most.
    expect(warnings.filter((w) => w.includes('SOCKETS_PER_IP'))).toHaveLength(1);
    // A place frees when a socket closes, however it closes.
    open[0].close();
    await closed(open[0]);
    await until(async () => (await tryUpgrade(s.wsUrl)).ws, (ws) => opened.push(ws));
    open[1].terminate(); // the TCP connection just drops
    await until(async () => (await tryUpgrade(s.wsUrl)).ws, (ws) => opened.push(ws));
    expect((await tryUpgrade(s.wsUrl)).status).toBe(429);
  });

  test('SOCKETS_PER_SESSION: the 21st socket of one session is refused; a cookieless socket from the same address still opens', async () => {
    const s = await startServer({ socketsPerSession: 20 });
    const { cookie } = await browserSession(s.url);
    const { open, refused } = await openUntilRefused(s.wsUrl, 25, { cookie });
    opened.push(...open);
    expect(open).toHaveLength(20);
    expect(refused).toMatchObject({ status: 429 });
    const guest = await tryUpgrade(s.wsUrl);
    expect(guest.ws).toBeDefined();
    opened.push(guest.ws!);
  });

  test('a limiter that cannot count refuses the socket (503), never waives the limit', async () => {
    const inner = createMemoryLimiter();
    const down: Limiter = { ...inner, take: (...args) => inner.take(...args), acquire: async () => Promise.reject(fail.unavailable('limits are unavailable')), health: () => inner.health(), close: () => inner.close() };
    const s = await startServer({}, { limiter: down });
    expect((await tryUpgrade(s.wsUrl)).status).toBe(503);
    await inner.close();
  });

  test('the places are shared by every process of a deployment (one limiter) and given back when a process shuts down', async () => {
    // Two apps sharing one limiter stand for two processes sharing Redis.
    const limiter = createMemoryLimiter();
    try {
      const a = await startServer({ socketsPerIp: 6 }, { limiter });
      const b = await startServer({ socketsPerIp: 6 }, { limiter });
      const onA = await openUntilRefused(a.wsUrl, 4);
      opened.push(...onA.open);
      const onB = await openUntilRefused(b.wsUrl, 10);
      opened.push(...onB.open);
      expect(onB.open).toHaveLength(2);
      expect(onB.refused).toMatchObject({ status: 429 });
      await a.stop(); // its 4 sockets closed with 1001
      const after = await openUntilRefused(b.wsUrl, 10);
      opened.push(...after.open);
      expect(after.open).toHaveLength(4);
    } finally {
      await limiter.close();
    }
  });
});

/** Retries `attempt` until it gives a value (bounded: 50 tries), and hands it to `keep`. */
async function until<T>(attempt: () => Promise<T | undefined>, keep: (value: T) => void): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const value = await attempt();
    if (value !== undefined) return keep(value);
    await sleep(20);
  }
  throw new Error('no place was freed');
}

/** A raw HTTP/1.1 request with headers of our choosing (fetch does not let a test set Host). */
function rawGet(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the edges: error pages, /metrics, the own origin, CSP', () => {
  test('error pages show no stack unless NODE_ENV=development (unset counts as production)', async () => {
    // Tried: a path that cannot be decoded (Express answers it with an error), without NODE_ENV.
    const s = await startServer();
    const res = await fetch(`${s.url}/room/%E0%A4%A`);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toMatch(/at \w+.* \(/);
    expect(html).not.toContain('node_modules');
    const dev = await startServer({ development: true });
    expect(await (await fetch(`${dev.url}/room/%E0%A4%A`)).text()).toContain('node_modules');
  });

  test('without METRICS_TOKEN /metrics answers loopback peers only, and not through a proxy', async () => {
    const s = await startServer();
    expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
    // A proxy on this machine is a loopback peer too: what it forwards is the public's.
    const proxied = await fetch(`${s.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(proxied.status).toBe(404);
    expect(await proxied.text()).not.toContain('gifchat_');
  });

  test('with METRICS_TOKEN /metrics needs the bearer token, even from loopback', async () => {
    const token = 't'.repeat(32);
    const s = await startServer({ metricsToken: token });
    expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${'x'.repeat(32)}` } })).status).toBe(401);
    const ok = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('gifchat_');
  });

  test('DNS rebinding: without PUBLIC_URL, only a local Host counts as the own origin', async () => {
    // Tried: a page of evil.example whose name was pointed at this server: its Host and Origin agree.
    const s = await startServer();
    const port = new URL(s.url).port;
    const rebound = await tryUpgrade(s.wsUrl, { host: `evil.example:${port}`, origin: `http://evil.example:${port}` });
    expect(rebound.status).toBe(403);
    const form = await fetch(`${s.url}/session`, { method: 'POST', headers: { origin: `http://evil.example:${port}` } });
    expect(form.status).toBe(403);
    // localhost and a browser on the LAN by IP still work.
    for (const host of [`localhost:${port}`, `192.168.1.20:${port}`, `[::1]:${port}`]) {
      const socket = await tryUpgrade(s.wsUrl, { host, origin: `http://${host}` });
      expect(socket.ws).toBeDefined();
      socket.ws!.terminate();
    }
  });

  test('with PUBLIC_URL the own origin is PUBLIC_URL, whatever the Host header says', async () => {
    const s = await startServer({ publicUrl: 'https://chat.example.com' });
    expect((await tryUpgrade(s.wsUrl, { origin: s.url })).status).toBe(403);
    const own = await tryUpgrade(s.wsUrl, { origin: 'https://chat.example.com' });
    expect(own.ws).toBeDefined();
    own.ws!.terminate();
    expect((await fetch(`${s.url}/session`, { method: 'POST', headers: { origin: s.url } })).status).toBe(403);
    expect((await fetch(`${s.url}/session`, { method: 'POST', headers: { origin: 'https://chat.example.com' } })).status).toBe(204);
    const csp = (await fetch(`${s.url}/`)).headers.get('content-security-policy')!;
    expect(csp).toMatch(/connect-src 'self' wss:\/\/chat\.example\.com(;|$)/);
  });

  test("CSP: styles and sockets from the own origin only, no https: or ws: wildcards", async () => {
    const s = await startServer();
    const csp = (await fetch(`${s.url}/`)).headers.get('content-security-policy')!;
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(directives.get('style-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'", `ws://${new URL(s.url).host}`]);
    expect(csp).not.toMatch(/(^|\s)(https:|http:|ws:|wss:)(\s|;|$)/);
    const rebound = await rawGet(s.url, '/', { host: 'evil.example' });
    expect(rebound.status).toBe(200); // the page itself is public; its socket would be refused
    expect(rebound.headers['content-security-policy']).not.toContain('evil.example'); // a Host header is not echoed as an allowed source
  });
});

describe('shutdown', () => {
  test('every message stored by a shutdown had its ack received by its sender before the 1001 close', async () => {
    // Tried: 12 messages from 4 sockets (3 each, the third sent as close() starts), in 8 rounds:
    // close() called at once, once the server read 6 frames, or after the first ack; with fast and
    // slow commits. The store is read afterwards.
    for (let round = 0; round < 8; round++) {
      const dataDir = tempDataDir();
      const store = openSqliteStore(path.join(dataDir, 'gif-chat.db'));
      // Odd rounds commit slowly (as PostgreSQL's flush to disk can): requests are still running when close() starts.
      const slow = round % 2 === 1;
      const parts = { store: slow ? { ...store, append: (ops: AppendOp[]) => sleep(50).then(() => store.append(ops)) } : store };
      const s = await startServer({ dataDir, ratePerSec: 10_000, rateBurst: 10_000 }, parts);
      const senders = await Promise.all(Array.from({ length: 4 }, () => TestClient.connect(s.wsUrl)));
      const room = await senders[0].request('create', { title: 'closing' });
      await Promise.all(senders.map((c) => c.request('join', { room: room.id })));
      const from = senders[0].frames.length;
      const framesBefore = s.app.hub.stats.framesIn;
      const send = (k: number) => senders.forEach((c, i) => c.sendRaw(JSON.stringify({ event: 'message', id: 100 + k, data: { room: room.id, text: `s${i} m${k}` } })));
      send(0);
      send(1);
      // Close at once, once the server has read 1 or 6 of the frames, or after the first reply: the messages are at every stage.
      const read = [0, 0, 6, 6][round % 4];
      for (let i = 0; i < 1000 && s.app.hub.stats.framesIn < framesBefore + (read ?? 0); i++) await new Promise((r) => setImmediate(r));
      if (round % 4 === 3) await senders[0].waitFor((f) => f.event === 'ack' || f.event === 'error', from);
      const closing = s.app.close();
      send(2); // sent while the server stops
      await closing;
      const closes = await Promise.all(senders.map((c) => c.closed));
      expect(closes.every((c) => c.code === 1001)).toBe(true);
      const stored = (await store.entriesAfter(room.id, 0, 1000)).filter((e) => 'text' in e && e.text !== undefined) as { text: string; seq: number }[];
      for (const entry of stored) {
        const sender = senders[Number(/^s(\d+)/.exec(entry.text)![1])];
        const ack = sender.frames.find((f) => f.event === 'ack' && f.data?.text === entry.text);
        expect({ text: entry.text, acked: ack?.data?.seq }).toEqual({ text: entry.text, acked: entry.seq });
      }
      // What was not stored was answered as not done (unavailable), or the socket closed before it was read.
      for (const [i, c] of senders.entries()) {
        for (const f of c.frames.filter((f) => f.event === 'error' && f.id !== undefined && f.id >= 100)) {
          expect(f.data.code).toBe('unavailable');
          expect(stored.some((e) => e.text === `s${i} m${f.id! - 100}`)).toBe(false);
        }
      }
      await s.stop();
    }
  });
});
