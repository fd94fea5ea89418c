import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TestClient } from '../helpers/client';
import { startServer, tempDataDir } from '../helpers/server';
import { canMountTmpfs } from '../helpers/tmpfs';
import { PostgresServer, RedisServer, startPostgres, startRedis } from '../helpers/services';

const version = (JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
const health = async (url: string) => {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: (await res.json()) as any };
};

describe('/healthz on one process (SQLite, in-process bus and presence)', () => {
  test('reports the node, the version, counts and each dependency up', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    await a.request('create', { title: 'r' });
    const { status, body } = await health(s.url);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      node: s.app.nodeId,
      version,
      connections: 1,
      users: 1,
      rooms: 1,
      dependencies: { store: { kind: 'sqlite', state: 'up' }, bus: { kind: 'memory', state: 'up' }, presence: { kind: 'memory', state: 'up' }, limits: { kind: 'memory', state: 'up' } },
    });
    expect(typeof body.dependencies.store.latencyMs).toBe('number');
  });

  const mountable = canMountTmpfs();

  (mountable ? test : test.skip)('a full disk: writes fail as unavailable, reads keep working, /healthz says why; with room again all is well', async () => {
    const dir = fs.mkdtempSync('/tmp/gif-chat-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
    try {
      const s = await startServer({ dataDir: dir });
      const a = await TestClient.connect(s.wsUrl);
      const room = await a.request('create', { title: 'full' });
      await a.request('join', { room: room.id });
      await a.request('message', { room: room.id, text: 'before' });
      // Something else fills the disk.
      const filler = path.join(dir, 'filler');
      fs.writeFileSync(filler, Buffer.alloc(0));
      for (let i = 0; ; i++) {
        try {
          fs.appendFileSync(filler, Buffer.alloc(64 * 1024));
        } catch {
          break;
        }
        if (i > 100) throw new Error('the tmpfs never filled');
      }
      let refused: any;
      for (let i = 0; i < 200 && !refused; i++) {
        try {
          await a.request('message', { room: room.id, text: 'x'.repeat(2000) });
        } catch (err) {
          refused = err;
        }
      }
      expect(refused).toMatchObject({ code: 'unavailable' });
      const degraded = await health(s.url);
      expect(degraded.status).toBe(200);
      expect(degraded.body.status).toBe('degraded');
      expect(degraded.body.dependencies.store).toMatchObject({ kind: 'sqlite', state: 'degraded', detail: expect.stringContaining('the disk is full') });
      // Reads work: history, and a second client joining.
      const b = await TestClient.connect(s.wsUrl);
      const joined = await b.request('join', { room: room.id });
      expect(joined.history.some((e: any) => e.text === 'before')).toBe(true);
      fs.rmSync(filler);
      await a.request('message', { room: room.id, text: 'after' });
      expect((await health(s.url)).body).toMatchObject({ status: 'ok', dependencies: { store: { state: 'up' } } });
      await s.stop();
    } finally {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('/healthz on PostgreSQL + Redis', () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([pg?.stop(), redis?.stop()]);
  }, 30_000);

  test('each dependency up; PostgreSQL stopped: 503 naming the store, within seconds; Redis stopped: bus and presence down; both back: ok', async () => {
    const s = await startServer({ databaseUrl: pg.url, redisUrl: redis.url, dataDir: tempDataDir() });
    const up = await health(s.url);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({
      status: 'ok',
      dependencies: { store: { kind: 'postgres', state: 'up' }, bus: { kind: 'redis', state: 'up' }, presence: { kind: 'redis', state: 'up' }, limits: { kind: 'redis', state: 'up' } },
    });

    await pg.halt();
    try {
      const started = Date.now();
      const down = await health(s.url);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(down.status).toBe(503);
      expect(down.body.status).toBe('unavailable');
      expect(down.body.dependencies.store).toMatchObject({ kind: 'postgres', state: 'down', detail: expect.stringMatching(/unavailable|no answer/) });
      expect(down.body.dependencies.bus.state).toBe('up');
      expect(down.body.rooms).toBeNull();
    } finally {
      await pg.start();
    }
    expect((await health(s.url)).body.status).toBe('ok');

    await redis.kill();
    try {
      const down = await health(s.url);
      expect(down.status).toBe(503);
      expect(down.body.dependencies.bus.state).toBe('down');
      expect(down.body.dependencies.presence.state).toBe('down');
      expect(down.body.dependencies.store.state).toBe('up');
    } finally {
      await redis.start();
    }
    // The clients reconnect by themselves (with back-off).
    let back: any;
    for (let i = 0; i < 50; i++) {
      back = await health(s.url);
      if (back.body.status === 'ok') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(back.status).toBe(200);
    expect(back.body.status).toBe('ok');
  });
});
