import net from 'node:net';
import { createClient } from 'redis';
import { Bus, BusEvent } from '../../src/bus/bus';
import { openRedisBus, PUBLISH_BATCH_BYTES, RedisBus, RedisBusOptions } from '../../src/bus/redis-bus';
import { silentLogger } from '../../src/logger';
import { ChatError } from '../../src/protocol/errors';
import { RedisServer, startRedis } from '../helpers/services';
import { busContract } from './bus-contract';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const open = (options: Partial<RedisBusOptions> = {}, url = redis.url) => openRedisBus(url, { logger: silentLogger, ...options });

// One instance: its own subscribers get its events locally, Redis is on the way to others.
busContract('redis', () => open());

// Two instances ("processes"): every event goes through Redis.
busContract('redis, publisher and subscribers in two processes', async () => {
  const [a, b] = await Promise.all([open(), open()]);
  const pair: Bus = {
    publish: (topic, event) => a.publish(topic, event),
    subscribe: (topic, handler) => b.subscribe(topic, handler),
    health: () => b.health(),
    close: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
  return pair;
});

const entry = (seq: number, room = 'r'): BusEvent => ({ type: 'entry', entry: { room, seq, user: { id: 'u_a', name: 'Alice', color: '#c0392b' }, text: `m${seq}`, ts: seq } });
const seqOf = (e: BusEvent) => (e.type === 'entry' ? e.entry.seq : -1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds, at most `ms`; returns whether it did. */
async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
}

/** A plain client, for looking at Redis from outside. */
async function admin() {
  const client = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/**
 * A TCP proxy in front of Redis whose connections can be made silent: bytes stop flowing
 * both ways while both sockets stay open (a half-dead connection nobody notices).
 */
async function startProxy(port: number) {
  const links: { client: net.Socket; upstream: net.Socket }[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    for (const s of [client, upstream]) s.on('error', () => {});
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    links.push({ client, upstream });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxyPort = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${proxyPort}`,
    links,
    silence(i: number) {
      const { client, upstream } = links[i];
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client, upstream } of links) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

describe('redis bus', () => {
  const buses: RedisBus[] = [];
  const track = async (bus: Promise<RedisBus>) => {
    const b = await bus;
    buses.push(b);
    return b;
  };
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });

  test("a publish reaches the other process's subscribers, and this process's own once", async () => {
    const a = await track(open());
    const b = await track(open());
    const gotA: number[] = [];
    const gotB: number[] = [];
    const gotB2: number[] = [];
    await a.subscribe('room:two', (e) => gotA.push(seqOf(e)));
    await b.subscribe('room:two', (e) => gotB.push(seqOf(e)));
    await b.subscribe('room:two', (e) => gotB2.push(seqOf(e)));
    for (let i = 1; i <= 20; i++) a.publish('room:two', entry(i));
    b.publish('room:two', entry(100));
    const expected = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(await until(() => gotB.length === 21 && gotA.length === 21)).toBe(true);
    await sleep(100); // nothing more comes (no echo of one's own publishes)
    expect(gotA.filter((s) => s <= 20)).toEqual(expected);
    expect(gotB.filter((s) => s <= 20)).toEqual(expected);
    expect(gotB2).toEqual(gotB);
    expect(gotA.length).toBe(21);
    expect(gotB.length).toBe(21);
    expect(a.stats()).toMatchObject({ connected: true, dropped: 0 });
  });

  test("a round's events for one topic leave as one message (a receiver fans a batch out at once), split past PUBLISH_BATCH_BYTES, order kept", async () => {
    const a = await track(open());
    const b = await track(open());
    const listener = await admin();
    const messages: string[] = [];
    await listener.subscribe('gifchat:room:batch', (message) => messages.push(message));
    try {
      const got: number[] = [];
      await b.subscribe('room:batch', (e) => got.push(seqOf(e)));
      for (let i = 1; i <= 50; i++) a.publish('room:batch', entry(i, 'batch'));
      a.publish('room:other', entry(1, 'other'));
      expect(await until(() => got.length === 50)).toBe(true);
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(messages).toHaveLength(1);
      expect(JSON.parse(messages[0].slice(messages[0].indexOf('['))).map((e: any) => e.entry.seq)).toEqual(got);
      // Big events: a round of ~1 MB leaves in messages of at most PUBLISH_BATCH_BYTES.
      messages.length = 0;
      got.length = 0;
      const big = (seq: number): BusEvent => ({ type: 'entry', entry: { room: 'batch', seq, user: { id: 'u_a', name: 'A', color: '#000000' }, text: 'x'.repeat(10_000), ts: seq } });
      for (let i = 1; i <= 100; i++) a.publish('room:batch', big(i));
      expect(await until(() => got.length === 100)).toBe(true);
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      // The listener is a connection of its own: its copies may arrive after b's.
      const events = (m: string) => {
        const value = JSON.parse(m.slice(Math.min(...['[', '{'].map((c) => m.indexOf(c)).filter((i) => i >= 0))));
        return Array.isArray(value) ? value.length : 1;
      };
      const carried = () => messages.reduce((n, m) => n + events(m), 0);
      expect(await until(() => carried() === 100)).toBe(true);
      expect(messages.length).toBeGreaterThanOrEqual(Math.ceil((100 * 10_000) / PUBLISH_BATCH_BYTES));
      for (const m of messages) expect(m.length).toBeLessThanOrEqual(PUBLISH_BATCH_BYTES + 20_000);
    } finally {
      await listener.quit().catch(() => {});
    }
  });

  test('a topic is subscribed in Redis only while this process has a handler for it', async () => {
    const a = await track(open());
    const b = await track(open());
    const plain = await admin();
    try {
      const channels = async () => ((await plain.sendCommand(['PUBSUB', 'CHANNELS', 'gifchat:room:*'])) as string[]).sort();
      expect(await channels()).toEqual([]);
      const got: number[] = [];
      const stop1 = await a.subscribe('room:here', (e) => got.push(seqOf(e)));
      const stop2 = await a.subscribe('room:here', () => {});
      expect(await channels()).toEqual(['gifchat:room:here']);
      expect(Number(((await plain.sendCommand(['PUBSUB', 'NUMSUB', 'gifchat:room:here'])) as unknown[])[1])).toBe(1);
      // b publishes to a room nobody follows, and to a's: only a's channel exists, b subscribed nothing.
      b.publish('room:elsewhere', entry(1));
      b.publish('room:here', entry(2));
      expect(await until(() => got.length === 1)).toBe(true);
      expect(await channels()).toEqual(['gifchat:room:here']);
      stop1();
      expect(await channels()).toEqual(['gifchat:room:here']); // one handler left
      stop2();
      expect(await until(async () => (await channels()).length === 0)).toBe(true);
      // And back: the topic can be followed again.
      await a.subscribe('room:here', (e) => got.push(seqOf(e)));
      b.publish('room:here', entry(3));
      expect(await until(() => got.length === 2)).toBe(true);
    } finally {
      await plain.close();
    }
  });

  test('subscribe and stop at once, many times over, leave Redis subscribed exactly to what is followed', async () => {
    const a = await track(open());
    const b = await track(open());
    const plain = await admin();
    try {
      const stops = await Promise.all(Array.from({ length: 30 }, (_, i) => a.subscribe(`room:churn${i % 10}`, () => {})));
      for (let i = 0; i < 30; i += 2) stops[i]();
      // Re-subscribe some of those just dropped while their UNSUBSCRIBE is on its way.
      const got: number[] = [];
      await a.subscribe('room:churn0', (e) => got.push(seqOf(e)));
      b.publish('room:churn0', entry(7));
      expect(await until(() => got.length === 1)).toBe(true);
      const followed = new Set(['room:churn0']);
      for (let i = 1; i < 30; i += 2) followed.add(`room:churn${i % 10}`);
      const expected = [...followed].map((t) => `gifchat:${t}`).sort();
      expect(await until(async () => JSON.stringify(((await plain.sendCommand(['PUBSUB', 'CHANNELS', 'gifchat:room:churn*'])) as string[]).sort()) === JSON.stringify(expected))).toBe(true);
    } finally {
      await plain.close();
    }
  });

  test('CLIENT KILL TYPE pubsub: the subscriber comes back, onReconnect fires, delivery resumes', async () => {
    const a = await track(open({ probeMs: 200, probeTimeoutMs: 300 }));
    const b = await track(open({ probeMs: 200, probeTimeoutMs: 300 }));
    let reconnects = 0;
    b.onReconnect(() => reconnects++);
    const got: number[] = [];
    await b.subscribe('room:kill', (e) => got.push(seqOf(e)));
    a.publish('room:kill', entry(1));
    expect(await until(() => got.length === 1)).toBe(true);

    const plain = await admin();
    try {
      await plain.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    } finally {
      await plain.close();
    }
    const killedAt = Date.now();
    expect(await until(() => reconnects >= 1, 3000)).toBe(true);
    const noticedMs = Date.now() - killedAt;
    expect(noticedMs).toBeLessThan(3000);
    // Delivery resumes (a publish made before b resubscribed may be lost: at most once).
    let seq = 1;
    expect(
      await until(() => {
        a.publish('room:kill', entry(++seq));
        return got.length >= 2;
      }, 3000),
    ).toBe(true);
    expect(b.stats().connected).toBe(true);
    expect(b.stats().reconnects).toBeGreaterThanOrEqual(1);
  });

  test('a subscription silently dead (bytes stop, the socket stays open): the probe notices, replaces it, onReconnect fires', async () => {
    const proxy = await startProxy(redis.port);
    try {
      const a = await track(open());
      const b = await track(open({ probeMs: 200, probeTimeoutMs: 300 }, proxy.url));
      expect(proxy.links.length).toBe(2); // b's publisher, then its subscriber
      let reconnects = 0;
      b.onReconnect(() => reconnects++);
      const got: number[] = [];
      await b.subscribe('room:silent', (e) => got.push(seqOf(e)));
      a.publish('room:silent', entry(1));
      expect(await until(() => got.length === 1)).toBe(true);
      expect(await until(() => b.stats().lastProbeMs !== undefined, 2000)).toBe(true);

      proxy.silence(1);
      const silencedAt = Date.now();
      a.publish('room:silent', entry(2)); // lost on the silent connection
      expect(await until(() => reconnects === 1, 4000)).toBe(true);
      const noticedMs = Date.now() - silencedAt;
      expect(noticedMs).toBeLessThan(4 * (200 + 300));
      expect(proxy.links.length).toBe(3); // a new subscriber connection
      a.publish('room:silent', entry(3));
      expect(await until(() => got.includes(3))).toBe(true);
      expect(got).toEqual([1, 3]);
      expect(b.stats().connected).toBe(true);
    } finally {
      await Promise.all(buses.splice(0).map((x) => x.close()));
      await proxy.close();
    }
  });

  test('subscribe rejects with unavailable when Redis cannot be reached; the bus stays usable', async () => {
    const proxy = await startProxy(redis.port);
    try {
      const b = await track(open({ probeMs: 0 }, proxy.url));
      const local: number[] = [];
      await b.subscribe('room:local', (e) => local.push(seqOf(e)));
      // Cut every connection (and refuse new ones): the clients see Redis gone.
      await proxy.close();
      expect(await until(() => !b.stats().connected, 2000)).toBe(true);
      await sleep(200); // both connections
      const started = Date.now();
      const err = await b.subscribe('room:nope', () => {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChatError);
      expect((err as ChatError).code).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(500);
      // Publishing neither throws nor waits, and local subscribers still get their events.
      for (let i = 1; i <= 5; i++) b.publish('room:local', entry(i));
      expect(local).toEqual([1, 2, 3, 4, 5]);
      expect(b.stats().dropped).toBe(5);
    } finally {
      await Promise.all(buses.splice(0).map((x) => x.close()));
      await proxy.close().catch(() => {});
    }
  });

  test('opening fails with a clear error when Redis is not there', async () => {
    const err = await open({}, 'redis://127.0.0.1:1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  test('close is safe twice, and publish after close does nothing', async () => {
    const a = await open();
    await a.close();
    await expect(a.close()).resolves.toBeUndefined();
    expect(() => a.publish('room:x', entry(1))).not.toThrow();
    await expect(a.subscribe('room:x', () => {})).rejects.toThrow(/closed/);
  });

  // Last: it kills the shared Redis (and starts it again, empty).
  test('Redis killed and started again (its data lost): publish never throws nor hangs meanwhile; delivery resumes, onReconnect fires', async () => {
    const a = await track(open({ probeMs: 200, probeTimeoutMs: 300 }));
    const b = await track(open({ probeMs: 200, probeTimeoutMs: 300 }));
    let reconnects = 0;
    b.onReconnect(() => reconnects++);
    const got: number[] = [];
    await b.subscribe('room:crash', (e) => got.push(seqOf(e)));
    await b.subscribe('user:u_crash', () => {});
    a.publish('room:crash', entry(1));
    expect(await until(() => got.length === 1)).toBe(true);

    await redis.kill();
    expect(await until(() => !a.stats().connected && !b.stats().connected, 3000)).toBe(true);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) a.publish('room:crash', entry(1000 + i));
    const publishMs = performance.now() - started;
    expect(publishMs).toBeLessThan(200);
    expect(a.stats().dropped).toBeGreaterThanOrEqual(1000);
    await sleep(300);

    await redis.start();
    expect(await until(() => reconnects >= 1, 5000)).toBe(true);
    let seq = 1;
    expect(
      await until(() => {
        a.publish('room:crash', entry(++seq));
        return got.length >= 2;
      }, 5000),
    ).toBe(true);
    expect(got.every((s) => s < 1000)).toBe(true); // what was published while Redis was down is gone
    // Both channels are subscribed again on the new Redis.
    const plain = await admin();
    try {
      expect(((await plain.sendCommand(['PUBSUB', 'CHANNELS', 'gifchat:*'])) as string[]).filter((c) => !c.includes(':probe:')).sort()).toEqual([
        'gifchat:room:crash',
        'gifchat:user:u_crash',
      ]);
    } finally {
      await plain.close();
    }
    expect(await until(() => a.stats().connected && b.stats().connected)).toBe(true);
  });
});
