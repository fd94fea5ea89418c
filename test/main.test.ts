import Database from 'better-sqlite3';
import path from 'node:path';
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
    const first = await fetch(`http://127.0.0.1:${p.port}/`);
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
    expect(stored.n).toBeGreaterThanOrEqual(acked.length);
    expect(p.output()).toContain('SIGTERM: shutting down');
  });

  test('kill -9 after the ack loses nothing that was acked', async () => {
    const dataDir = tempDataDir();
    const env = { DATA_DIR: dataDir, COOKIE_SECRET: 'test-secret', RATE_PER_SEC: '100000', RATE_BURST: '100000' };
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
    const rooms = await b.request('chatrooms');
    expect(rooms.map((r: any) => r.id)).toEqual([room.id]);
    const resumed = await b.request('join', { room: room.id, since: 0 });
    const storedSeqs = new Set(resumed.history.map((e: any) => e.seq));
    for (const seq of ackedNow) expect(storedSeqs.has(seq)).toBe(true);
    // seq carries on after the last stored entry
    const next = await b.request('message', { room: room.id, text: 'after restart' });
    expect(next.seq).toBeGreaterThan(Math.max(...storedSeqs as Set<number>));
  });
});
