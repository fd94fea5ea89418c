import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { freePort } from './helpers/services';
import { TestClient } from './helpers/client';
import { failedStart, startProcess } from './helpers/process';
import { tempDataDir } from './helpers/server';

describe('main: the process as `npm start` runs it', () => {
  test('invalid settings stop start-up with a message naming the variable', async () => {
    const dataDir = tempDataDir();
    const port = await failedStart({ PORT: 'abc', DATA_DIR: dataDir });
    expect(port.code).toBe(1);
    expect(port.output).toContain('PORT must be an integer');
    const heartbeat = await failedStart({ HEARTBEAT_MS: '-5', DATA_DIR: dataDir });
    expect(heartbeat.output).toContain('HEARTBEAT_MS');
    const secret = await failedStart({ NODE_ENV: 'production', DATA_DIR: dataDir });
    expect(secret.code).toBe(1);
    expect(secret.output).toContain('COOKIE_SECRET is required');
  });

  test('without COOKIE_SECRET in development: a warning, and a secret kept in DATA_DIR, so a restart keeps every visitor who they were', async () => {
    const dataDir = tempDataDir();
    const p = await startProcess({ DATA_DIR: dataDir });
    expect(p.output()).toContain('COOKIE_SECRET is not set');
    const health = await fetch(`http://127.0.0.1:${p.port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const first = await fetch(`http://127.0.0.1:${p.port}/session`, { method: 'POST' });
    const cookie = first.headers.get('set-cookie')!.split(';')[0];
    const before = await TestClient.connect(`ws://127.0.0.1:${p.port}`, { headers: { cookie, origin: `http://127.0.0.1:${p.port}` } });
    const user = before.user;
    p.child.kill('SIGTERM');
    await p.exited;
    const q = await startProcess({ DATA_DIR: dataDir });
    expect(q.output()).toMatch(/using the one kept in .*cookie-secret/);
    const after = await TestClient.connect(`ws://127.0.0.1:${q.port}`, { headers: { cookie, origin: `http://127.0.0.1:${q.port}` } });
    expect(after.user).toEqual(user);
  });

  test('start-up failures are one sentence naming the setting to change, never a stack: a taken port, an unusable DATA_DIR, PostgreSQL or Redis unreachable', async () => {
    const running = await startProcess({ DATA_DIR: tempDataDir(), COOKIE_SECRET: 's' });
    const taken = await failedStart({ DATA_DIR: tempDataDir(), COOKIE_SECRET: 's', PORT: String(running.port) });
    const oneLine = (output: string) => output.split('\n').filter((l) => l.trim() !== '' && !/ warn /.test(l));
    expect(taken.code).toBe(1);
    expect(oneLine(taken.output)).toEqual([`gif-chat: cannot start: port ${running.port} on 127.0.0.1 is already in use (set PORT to a free port, or stop the server using it)`]);
    const file = path.join(tempDataDir(), 'a-file');
    fs.writeFileSync(file, '');
    const dataDir = await failedStart({ DATA_DIR: path.join(file, 'data'), COOKIE_SECRET: 's' });
    expect(dataDir.code).toBe(1);
    expect(oneLine(dataDir.output)).toHaveLength(1);
    expect(dataDir.output).toMatch(/^gif-chat: cannot start: DATA_DIR .*a-file\/data cannot be used: ENOTDIR.* \(set DATA_DIR to a folder this user may write\)$/m);
    const closed = await freePort();
    const pg = await failedStart({ DATA_DIR: tempDataDir(), COOKIE_SECRET: 's', DATABASE_URL: `postgres://chat:chat@127.0.0.1:${closed}/chat` });
    expect(pg.code).toBe(1);
    expect(oneLine(pg.output)).toEqual([
      'gif-chat: cannot start: cannot open PostgreSQL: storage is unavailable: the database refuses connections (check DATABASE_URL and that PostgreSQL is running)',
    ]);
    const redis = await failedStart({ DATA_DIR: tempDataDir(), COOKIE_SECRET: 's', REDIS_URL: `redis://127.0.0.1:${closed}` });
    expect(redis.code).toBe(1);
    expect(oneLine(redis.output)).toHaveLength(1);
    expect(redis.output).toMatch(/^gif-chat: cannot start: cannot reach Redis: .* \(check REDIS_URL and that Redis is running\)$/m);
  });

  test('logs: one plain line per request and per socket event (no colors off a terminal), health probes and scrapes left out; a final "stopped" line', async () => {
    const p = await startProcess({ DATA_DIR: tempDataDir(), COOKIE_SECRET: 's', ACCESS_LOG: 'true' });
    const base = `http://127.0.0.1:${p.port}`;
    await fetch(`${base}/`);
    await fetch(`${base}/healthz`);
    await fetch(`${base}/metrics`);
    const a = await TestClient.connect(`ws://127.0.0.1:${p.port}`);
    a.ws.close(1000, 'bye');
    await a.closed;
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${p.port}`, { headers: { origin: 'https://evil.example' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(refused).toBe(403);
    for (let i = 0; i < 50 && !/closed: 1000 bye/.test(p.output()); i++) await new Promise((r) => setTimeout(r, 50));
    p.child.kill('SIGTERM');
    await p.exited;
    const out = p.output();
    expect(out).not.toMatch(/\x1b\[/);
    expect(out).toMatch(/"GET \/ HTTP\/1.1" 200/);
    expect(out).not.toMatch(/GET \/healthz/);
    expect(out).not.toMatch(/GET \/metrics/);
    expect(out).toMatch(new RegExp(`socket \\S+ open: user ${a.user.id} \\(.+\\) from 127\\.0\\.0\\.1`));
    expect(out).toMatch(new RegExp(`socket \\S+ closed: 1000 bye \\(user ${a.user.id}\\)`));
    expect(out).toMatch(/upgrade refused 403: origin not allowed \(from 127\.0\.0\.1, origin https:\/\/evil\.example\)/);
    expect(out.trimEnd().split('\n').pop()).toMatch(/: stopped$/);
  });

  test('a second signal during a slow shutdown exits at once', async () => {
    const p = await startProcess({ DATA_DIR: tempDataDir(), COOKIE_SECRET: 's' });
    const a = await TestClient.connect(`ws://127.0.0.1:${p.port}`);
    // A client that never answers the close: the shutdown waits its grace period for it.
    (a.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    p.child.kill('SIGTERM');
    for (let i = 0; i < 50 && !/shutting down/.test(p.output()); i++) await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    p.child.kill('SIGINT');
    const exited = await p.exited;
    expect(exited.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(p.output()).toMatch(/SIGINT again: exiting now/);
    a.ws.terminate();
  });

  test('SIGTERM: sockets close with 1001, pending acks go out first, the database is closed, exit 0', async () => {
    const dataDir = tempDataDir();
    const p = await startProcess({ DATA_DIR: dataDir, COOKIE_SECRET: 'test-secret' });
    const a = await TestClient.connect(`ws://127.0.0.1:${p.port}`);
    const room = await a.request('create', { title: 'durable' });
    await a.request('join', { room: room.id });
    const replies = Array.from({ length: 10 }, (_, i) => a.call('message', { room: room.id, text: `m${i}` }));
    p.child.kill('SIGTERM');
    const closed = await a.closed;
    expect(closed.code).toBe(1001);
    expect((await p.exited).code).toBe(0);
    const acked = (await Promise.allSettled(replies)).filter((r) => r.status === 'fulfilled' && r.value.event === 'ack');
    const db = new Database(path.join(dataDir, 'gif-chat.db'), { readonly: true });
    const stored = db.prepare('SELECT count(*) AS n FROM entries WHERE room_id = ? AND text IS NOT NULL').get(room.id) as { n: number };
    db.close();
    // Everything acked is stored, and everything stored was acked before the close.
    expect(stored.n).toBe(acked.length);
    expect(p.output()).toContain('SIGTERM: shutting down');
  });

  test('kill -9 after the ack loses nothing that was acked', async () => {
    const dataDir = tempDataDir();
    const env = { DATA_DIR: dataDir, COOKIE_SECRET: 'test-secret', RATE_PER_SEC: '100000', RATE_BURST: '100000', USER_MESSAGES_PER_SEC: '100000', USER_MESSAGES_BURST: '100000' };
    const p = await startProcess(env);
    const a = await TestClient.connect(`ws://127.0.0.1:${p.port}`);
    const room = await a.request('create', { title: 'crash' });
    await a.request('join', { room: room.id });
    const acked: number[] = [];
    let hundred: () => void;
    const enough = new Promise<void>((resolve) => (hundred = resolve));
    const inflight = Array.from({ length: 300 }, (_, i) =>
      a.call('message', { room: room.id, text: `m${i}` }).then((f) => {
        if (f.event === 'ack' && acked.push(f.data.seq) === 100) hundred();
      }),
    );
    await enough;
    p.child.kill('SIGKILL');
    await p.exited;
    await Promise.race([Promise.allSettled(inflight), a.closed]);
    const ackedNow = [...acked];
    const again = await startProcess(env);
    const b = await TestClient.connect(`ws://127.0.0.1:${again.port}`);
    const rooms = (await b.request('chatrooms')).rooms;
    expect(rooms.map((r: any) => r.id)).toEqual([room.id]);
    const resumed = await b.request('join', { room: room.id, since: 0 });
    const storedSeqs = new Set(resumed.history.map((e: any) => e.seq));
    for (const seq of ackedNow) expect(storedSeqs.has(seq)).toBe(true);
    // seq carries on after the last stored entry
    const next = await b.request('message', { room: room.id, text: 'after restart' });
    expect(next.seq).toBeGreaterThan(Math.max(...storedSeqs as Set<number>));
  });
});
