import { silentLogger } from '../../src/logger';
import { Departure, SocketRef } from '../../src/presence/presence';
import { openRedisPresence, RedisPresence, RedisPresenceOptions } from '../../src/presence/redis-presence';
import { UserInfo } from '../../src/protocol';
import { ChatError } from '../../src/protocol/errors';
import { RedisServer, startRedis } from '../helpers/services';
import { presenceContract } from './presence-contract';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let prefixes = 0;
/** Each test its own key prefix: a fresh, empty presence on the shared Redis. */
const freshPrefix = () => `test:${process.pid}:${++prefixes}:`;

presenceContract('redis', (options) => openRedisPresence(redis.url, { ...options, logger: silentLogger, prefix: freshPrefix() }));

const user = (id: string, name = id.toUpperCase()): UserInfo => ({ id, name, color: '#000000' });
const ref = (node: string, socket: string): SocketRef => ({ node, socket });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byRoom = (ds: Departure[]) => ds.map((d) => `${d.room}:${d.user.id}`).sort();

describe('redis presence', () => {
  const graceMs = 1_000;
  const ttlMs = 5_000;
  const opened: RedisPresence[] = [];
  /** An instance ("process") on the given prefix. */
  const open = async (prefix: string, options: Partial<RedisPresenceOptions> = {}) => {
    const p = await openRedisPresence(redis.url, { graceMs, ttlMs, logger: silentLogger, prefix, ...options });
    opened.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((p) => p.close()));
  });

  test('two processes on one Redis agree', async () => {
    const prefix = freshPrefix();
    const a = await open(prefix);
    const b = await open(prefix);
    const t0 = Date.now();
    await a.beat('a', t0);
    await b.beat('b', t0);
    expect(await a.connect(ref('a', '1'), user('u_x', 'Xena'))).toBe(true);
    expect(await b.connect(ref('b', '1'), user('u_x', 'Xena'))).toBe(false); // the same user, another process
    expect(await b.connect(ref('b', '2'), user('u_y', 'xena'))).toBe(true);
    expect(await b.rename(user('u_y', 'XENA'))).toBe(false);
    expect(await a.userCount()).toBe(2);

    expect(await a.join('r', ref('a', '1'), user('u_x'), 2)).toBe('joined');
    expect(await b.join('r', ref('b', '1'), user('u_x'), 2)).toBe('present');
    expect(await b.join('r', ref('b', '2'), user('u_y'), 2)).toBe('joined');
    await a.connect(ref('a', '3'), user('u_z'));
    expect(await a.join('r', ref('a', '3'), user('u_z'), 2)).toBe('full');
    expect((await b.members('r')).map((m) => m.user.id)).toEqual(['u_x', 'u_y']);
    expect(await a.members('r')).toEqual(await b.members('r'));

    // b dies; a keeps beating; both sweep at once: each departure reaches one of them.
    await a.beat('a', t0 + 100 * ttlMs);
    const [fromA, fromB] = await Promise.all([a.sweep(t0 + ttlMs + graceMs), b.sweep(t0 + ttlMs + graceMs)]);
    expect([...fromA, ...fromB].map((d) => d.user.id)).toEqual(['u_y']);
    expect((await b.users()).map((u) => u.id)).toEqual(['u_x', 'u_z']);
    expect((await b.members('r')).map((m) => m.user.id)).toEqual(['u_x']); // x still in through a
    expect(await b.join('r', ref('a', '3'), user('u_z'), 2)).toBe('joined');
  });

  test('join and rename are atomic across processes', async () => {
    const prefix = freshPrefix();
    const ps = [await open(prefix), await open(prefix), await open(prefix)];
    const ids = Array.from({ length: 12 }, (_, i) => `u_${i}`);
    await Promise.all(ids.map((id, i) => ps[i % 3].connect(ref(`n${i % 3}`, id), user(id))));
    const outcomes = await Promise.all(ids.map((id, i) => ps[i % 3].join('r', ref(`n${i % 3}`, id), user(id), 5)));
    expect(outcomes.filter((o) => o === 'joined')).toHaveLength(5);
    expect(await ps[0].counts(['r'])).toEqual([5]);
    const renamed = await Promise.all(ids.map((id, i) => ps[i % 3].rename(user(id, i % 2 ? 'Zed' : 'zED'))));
    expect(renamed.filter(Boolean)).toHaveLength(1);
    expect((await ps[1].users()).filter((u) => u.name.toLowerCase() === 'zed')).toHaveLength(1);
  });

  test('a process that stops beating: its users vanish within 2 refresh periods, and each departure comes out once across two sweepers', async () => {
    const prefix = freshPrefix();
    const ttl = 600;
    const grace = 300;
    const a = await open(prefix, { ttlMs: ttl, graceMs: grace });
    const b = await open(prefix, { ttlMs: ttl, graceMs: grace });
    const c = await open(prefix, { ttlMs: ttl, graceMs: grace }); // the one that dies
    const beat = (p: RedisPresence, node: string) => {
      const timer = setInterval(() => p.beat(node, Date.now()).catch(() => {}), ttl / 3);
      return () => clearInterval(timer);
    };
    const stopA = beat(a, 'na');
    const stopB = beat(b, 'nb');
    const stopC = beat(c, 'nc');
    await Promise.all([a.beat('na', Date.now()), b.beat('nb', Date.now()), c.beat('nc', Date.now())]);
    await a.connect(ref('na', '1'), user('u_1'));
    await a.join('r', ref('na', '1'), user('u_1'), 10);
    await c.connect(ref('nc', '1'), user('u_2'));
    await c.join('r', ref('nc', '1'), user('u_2'), 10);
    await c.join('r2', ref('nc', '1'), user('u_2'), 10);
    await c.connect(ref('nc', '2'), user('u_3'));
    await c.join('r', ref('nc', '2'), user('u_3'), 10);
    await b.connect(ref('nb', '1'), user('u_3')); // u_3 is also on a live process
    await b.join('r', ref('nb', '1'), user('u_3'), 10);

    const departures: Departure[] = [];
    const sweeping = [a, b].map((p) => {
      const timer = setInterval(() => {
        p.sweep(Date.now()).then((ds) => departures.push(...ds), () => {});
      }, 50);
      return () => clearInterval(timer);
    });
    try {
      await sleep(ttl); // all alive meanwhile
      expect(await a.userCount()).toBe(3);
      stopC(); // c crashes: no more beats (nor sweeps)
      const diedAt = Date.now();
      while ((await a.user('u_2')) !== undefined && Date.now() - diedAt < 3 * ttl) await sleep(20);
      const vanishedMs = Date.now() - diedAt;
      expect(await a.user('u_2')).toBeUndefined();
      expect(vanishedMs).toBeLessThanOrEqual(2 * ttl);
      expect(await a.user('u_3')).toBeDefined(); // still on b
      while (departures.length < 2 && Date.now() - diedAt < 3 * ttl + grace) await sleep(20);
      await sleep(200); // a second departure of one member would show by now
      expect(byRoom(departures)).toEqual(['r2:u_2', 'r:u_2']);
      expect((await b.members('r')).map((m) => m.user.id)).toEqual(['u_1', 'u_3']);
      expect(await b.activeRooms()).toEqual(['r']);
    } finally {
      for (const stop of [stopA, stopB, ...sweeping]) stop();
    }
  });

  test('a sweep with nothing due changes nothing and costs one round trip, however many members', async () => {
    const p = await open(freshPrefix());
    const now = Date.now();
    await p.beat('n', now);
    await Promise.all(
      Array.from({ length: 2000 }, async (_, i) => {
        await p.join(`room${i % 50}`, ref('n', `s${i}`), user(`u_${i}`), 1000);
      }),
    );
    for (let i = 0; i < 100; i++) await p.leave(`room${i % 50}`, ref('n', `s${i}`), false);
    const started = performance.now();
    for (let i = 0; i < 100; i++) expect(await p.sweep(now + 1)).toEqual([]);
    const perSweepMs = (performance.now() - started) / 100;
    expect(perSweepMs).toBeLessThan(5);
    expect(await p.userCount()).toBe(2000);
    const later = Date.now() + graceMs;
    await p.beat('n', later);
    expect(await p.sweep(later)).toHaveLength(100);
    expect(await p.counts(['room0', 'room49'])).toEqual([38, 38]);
  });

  test('a sweep handles at most its batch; the rest comes with the next', async () => {
    const p = await open(freshPrefix(), { sweepBatch: 10 });
    const t0 = Date.now();
    await p.beat('dead', t0 - 10 * ttlMs);
    for (let i = 0; i < 25; i++) await p.join('r', ref('dead', `s${i}`), user(`u_${i}`), 100);
    const later = t0 + graceMs;
    const got: Departure[] = [];
    for (let i = 0; i < 10 && got.length < 25; i++) {
      const batch = await p.sweep(later);
      expect(batch.length).toBeLessThanOrEqual(10);
      got.push(...batch);
    }
    expect(got.map((d) => d.user.id).sort()).toEqual(Array.from({ length: 25 }, (_, i) => `u_${i}`).sort());
    expect(await p.userCount()).toBe(0);
    expect(await p.activeRooms()).toEqual([]);
  });

  test('names are compared lower-cased the JavaScript way, beyond ASCII', async () => {
    const p = await open(freshPrefix());
    await p.connect(ref('n', 'a'), user('u_a', 'Élodie'));
    await p.connect(ref('n', 'b'), user('u_b', 'Bob'));
    expect(await p.rename(user('u_b', 'éLODIE'))).toBe(false);
    expect(await p.rename(user('u_b', 'Zoë|{"x":1}'))).toBe(true);
    await p.join('r', ref('n', 'b'), user('u_b'), 5);
    expect((await p.members('r'))[0].user.name).toBe('Zoë|{"x":1}');
  });

  test('ids with separators in them do not mix', async () => {
    const p = await open(freshPrefix());
    // Node "n1" socket "2" and node "n" socket "12" are two sockets.
    expect(await p.join('r:1', ref('n1', '2'), user('u_a'), 5)).toBe('joined');
    expect(await p.join('r:1', ref('n', '12'), user('u_b'), 5)).toBe('joined');
    expect(await p.join('r', ref('n', '3'), user(':1u_c'), 5)).toBe('joined');
    await p.leave('r:1', ref('n1', '2'), false);
    await p.leave('r', ref('n', '3'), false);
    const later = Date.now() + graceMs;
    await p.beat('n', later);
    await p.beat('n1', later);
    expect(byRoom(await p.sweep(later))).toEqual(['r:1:u_a', 'r::1u_c']);
    expect((await p.members('r:1')).map((m) => m.user.id)).toEqual(['u_b']);
  });

  test('closed: releasing calls resolve as on an empty presence, acquiring ones reject; the shared state stays', async () => {
    const prefix = freshPrefix();
    const p = await open(prefix);
    await p.join('r', ref('n', 'a'), user('u_a'), 5);
    await p.close();
    await p.close();
    expect(await p.disconnect(ref('n', 'a'))).toBe(false);
    expect(await p.members('r')).toEqual([]);
    await expect(p.join('r', ref('n', 'b'), user('u_b'), 5)).rejects.toMatchObject({ code: 'unavailable' });
    const q = await open(prefix);
    expect((await q.members('r')).map((m) => m.user.id)).toEqual(['u_a']);
  });

  // Last: it kills the shared Redis (and starts it again, empty).
  test('Redis down: every call rejects with unavailable within a second or two; back up (empty), it works and onReset fires', async () => {
    const prefix = freshPrefix();
    const p = await open(prefix, { timeoutMs: 500 });
    const q = await open(prefix, { timeoutMs: 500 });
    let resets = 0;
    p.onReset(() => resets++);
    await p.beat('n', Date.now());
    await p.join('r', ref('n', 'a'), user('u_a'), 5);
    expect(await q.isMember('r', 'u_a')).toBe(true);

    await redis.kill();
    await sleep(100);
    const calls: [string, () => Promise<unknown>][] = [
      ['beat', () => p.beat('n', Date.now())],
      ['connect', () => p.connect(ref('n', 'b'), user('u_b'))],
      ['join', () => p.join('r', ref('n', 'b'), user('u_b'), 5)],
      ['members', () => q.members('r')],
      ['users', () => q.users()],
      ['sweep', () => q.sweep(Date.now())],
      ['rename', () => p.rename(user('u_a', 'Al'))],
      ['counts', () => q.counts(['r'])],
    ];
    for (const [name, call] of calls) {
      const started = Date.now();
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect([name, err instanceof ChatError ? err.code : err]).toEqual([name, 'unavailable']);
      expect((err as ChatError).message).toMatch(/^presence is unavailable: /);
      expect(Date.now() - started).toBeLessThan(1500);
    }

    await redis.start();
    /** Retries `call` until Redis answers it (the clients reconnect with a backoff of up to a second). */
    const once = async <T>(call: () => Promise<T>): Promise<T> => {
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          return await call();
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(100);
        }
      }
    };
    await once(() => p.beat('n', Date.now()));
    expect(resets).toBe(1); // the state was lost: the process is told to register its sockets again
    expect(await once(() => q.isMember('r', 'u_a'))).toBe(false);
    expect(await p.join('r', ref('n', 'a'), user('u_a'), 5)).toBe('joined');
    expect((await q.members('r')).map((m) => m.user.id)).toEqual(['u_a']);
  });
});
