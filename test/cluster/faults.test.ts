import { execFileSync } from 'node:child_process';
import { Cluster, servicesBackend } from '../helpers/cluster';
import { sleep, TestClient } from '../helpers/client';
import { HEAD_CHECK_MS } from '../../src/realtime/hub';
import { PostgresServer, RedisServer, startPostgres, startRedis } from '../helpers/services';

/**
 * Faults of the shared services, with two apps on real PostgreSQL and Redis: what was
 * acked is never lost, and everything works again once the service is back.
 */
let postgres: PostgresServer;
let redis: RedisServer;
const backend = servicesBackend(() => ({ postgres, redis }));
let cluster: Cluster | undefined;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 60_000);

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

/** Retries `fn` until it resolves, for at most `ms`. */
async function eventually<T>(fn: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

async function twoInARoom() {
  cluster = await backend.start(2, { ratePerSec: 1000, rateBurst: 1000 });
  const [A, B] = cluster.nodes;
  const a = await TestClient.connect(A.wsUrl);
  const b = await TestClient.connect(B.wsUrl);
  const room = await a.request('create', { title: 'faults', max: 10 });
  await a.request('join', { room: room.id });
  await b.request('join', { room: room.id });
  return { a, b, room };
}

describe('faults of PostgreSQL and Redis', () => {
  test('Redis pub/sub connections killed: delivery across apps resumes, nothing acked is lost', async () => {
    const { a, b, room } = await twoInARoom();
    await a.request('message', { room: room.id, text: 'before' });
    await b.next('message', (d) => d.text === 'before', 0);
    execFileSync('redis-cli', ['-p', String(redis.port), 'CLIENT', 'KILL', 'TYPE', 'pubsub'], { stdio: 'ignore' });
    const sent: number[] = [];
    for (let i = 0; i < 20; i++) sent.push((await a.request('message', { room: room.id, text: `during ${i}` })).seq);
    // Every acked message reaches the socket on the other app, in order, once (pushed, or filled from the store).
    // (A push lost while B's subscription came back is read from the store by B's next head check.)
    await b.waitFor((f) => f.event === 'message' && f.data.seq === sent[sent.length - 1], 0, HEAD_CHECK_MS + 5000);
    const got = b.all('message').map((m) => m.seq);
    expect(got.filter((seq) => sent.includes(seq))).toEqual(sent);
    expect(new Set(got).size).toBe(got.length);
  }, 40_000);

  test('Redis restarted with its data lost: presence is rebuilt, delivery resumes, holes are filled', async () => {
    const { a, b, room } = await twoInARoom();
    await redis.kill();
    await redis.start(); // empty
    // Until the apps notice, nothing is lost: a message sent now is stored, and reaches B by the
    // bus or, when its publish was dropped while Redis was away, from the store at B's next head
    // check (HEAD_CHECK_MS, 10 s) at the latest.
    const sent = await eventually(() => a.request('message', { room: room.id, text: 'after restart' }));
    await b.waitFor((f) => f.event === 'message' && f.data.seq === sent.seq, 0, HEAD_CHECK_MS + 5000);
    // Presence registered again by each app (within a beat): both are online and in the room.
    await eventually(async () => {
      const users = (await b.request('availableUsers')).map((u: any) => u.id).sort();
      expect(users).toEqual([a.user.id, b.user.id].sort());
    });
    const members = (await a.request('join', { room: room.id })).members.map((u: any) => u.id).sort();
    expect(members).toEqual([a.user.id, b.user.id].sort());
    const later = await a.request('message', { room: room.id, text: 'live again' });
    await b.waitFor((f) => f.event === 'message' && f.data.seq === later.seq, 0, HEAD_CHECK_MS + 5000);
  }, 40_000);

  test('PostgreSQL stopped: requests fail fast with unavailable, nothing half-written, no seq skipped; back, it all works', async () => {
    const { a, b, room } = await twoInARoom();
    const first = await a.request('message', { room: room.id, text: 'one' });
    await postgres.halt();
    const started = Date.now();
    const reply = await a.call('message', { room: room.id, text: 'while down', nonce: 'n-down' });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(reply.event).toBe('error');
    expect(reply.data.code).toBe('unavailable');
    await postgres.start();
    // The same message, retried with its nonce once the database is back, is stored once, right after the last.
    const retried = await eventually(() => a.request('message', { room: room.id, text: 'while down', nonce: 'n-down' }));
    expect(retried.seq).toBe(first.seq + 1);
    await b.next('message', (d) => d.seq === retried.seq, 0);
    const history = await b.request('history', { room: room.id });
    const seqs = history.map((e: any) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(history.filter((e: any) => e.text === 'while down')).toHaveLength(1);
  }, 40_000);

  test('PostgreSQL backends terminated: the next requests work on fresh connections', async () => {
    const { a, b, room } = await twoInARoom();
    await a.request('message', { room: room.id, text: 'one' });
    postgres.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'chat'");
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await a.call('message', { room: room.id, text: `after ${i}`, nonce: `t-${i}` }));
    // At most the requests on a killed connection fail (unavailable); the rest are stored.
    for (const r of replies) expect(r.event === 'ack' || r.data.code === 'unavailable').toBe(true);
    const last = await eventually(() => a.request('message', { room: room.id, text: 'last' }));
    await b.next('message', (d) => d.seq === last.seq, 0);
    const seqs = (await b.request('history', { room: room.id })).map((e: any) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  }, 30_000);
});
