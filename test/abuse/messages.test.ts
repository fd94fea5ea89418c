import { TestClient, sleep } from '../helpers/client';
import { servicesBackend } from '../helpers/cluster';
import { browserSession, startServer } from '../helpers/server';
import { PostgresServer, RedisServer, startPostgres, startRedis } from '../helpers/services';

/**
 * One person's message rate, across all their sockets (and processes): USER_MESSAGES_PER_SEC
 * (default 10) with a burst of USER_MESSAGES_BURST (default 30). Each socket's own frame rate
 * (20/s, burst 40) is not reached in these tests: the flood comes from many sockets at once.
 */

/** Sends `n` messages at once on `client` and sorts the replies: acks, and refusals as error data. */
async function flood(client: TestClient, room: string, n: number): Promise<{ acked: number; refused: any[] }> {
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => client.call('message', { room, text: `flood ${i}` })));
  const refused = replies.filter((r) => r.event === 'error').map((r) => r.data);
  return { acked: replies.length - refused.length, refused };
}

let postgres: PostgresServer | undefined;
let redis: RedisServer | undefined;
afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

describe('a per-person message rate across sockets', () => {
  test('tried: 3 sockets of one person each send 15 messages at once (45, each socket under its own limit); about the burst of 30 pass, the rest get rate_limited with retryAfterMs; another person is not affected', async () => {
    const s = await startServer();
    const { cookie } = await browserSession(s.url);
    const sockets = await Promise.all([1, 2, 3].map(() => TestClient.connect(s.wsUrl, { headers: { cookie } })));
    const other = await TestClient.connect(s.wsUrl);
    const room = await sockets[0].request('create', { title: 'Flood', max: 10 });
    for (const c of [...sockets, other]) await c.request('join', { room: room.id });

    const results = await Promise.all(sockets.map((c) => flood(c, room.id, 15)));
    const acked = results.reduce((sum, r) => sum + r.acked, 0);
    const refused = results.flatMap((r) => r.refused);
    // The burst (30) passes, plus what the rate refilled while the frames were handled; never all 45.
    expect(acked).toBeGreaterThanOrEqual(30);
    expect(acked).toBeLessThan(45);
    expect(refused.length).toBe(45 - acked);
    for (const error of refused) {
      expect(error.code).toBe('rate_limited');
      expect(error.retryAfterMs).toBeGreaterThan(0);
      expect(error.retryAfterMs).toBeLessThanOrEqual(1000);
    }
    // Nobody else pays for it.
    expect((await flood(other, room.id, 10)).acked).toBe(10);
    // After the wait it was told, the person may post again.
    await sleep(Math.max(...refused.map((e) => e.retryAfterMs)) + 50);
    await expect(sockets[2].request('message', { room: room.id, text: 'calm again' })).resolves.toMatchObject({ text: 'calm again' });
    // Only what was acked is in the room: refused messages were not stored.
    const log = await other.request('join', { room: room.id, since: 0 });
    expect(log.history.filter((e: any) => e.text?.startsWith('flood ') && e.user.id === sockets[0].user.id)).toHaveLength(acked);
  });

  test('tried: the same person floods through two processes sharing Redis (sockets on each); the rate holds across them', async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    const backend = servicesBackend(() => ({ postgres: postgres!, redis: redis! }));
    const cluster = await backend.start(2, {});
    const [A, B] = cluster.nodes;
    const { cookie } = await browserSession(A.url);
    const onA = await TestClient.connect(A.wsUrl, { headers: { cookie } });
    const onB = await TestClient.connect(B.wsUrl, { headers: { cookie } });
    expect(onB.user.id).toBe(onA.user.id);
    const room = await onA.request('create', { title: 'Flood', max: 10 });
    await onA.request('join', { room: room.id });
    await onB.request('join', { room: room.id });
    const [a, b] = await Promise.all([flood(onA, room.id, 30), flood(onB, room.id, 30)]);
    // 60 sent, each socket under its own limit: one burst of 30 across both processes, plus at
    // most one drawn-ahead chunk (4) per process and the refill while handled; never 60.
    expect(a.acked + b.acked).toBeGreaterThanOrEqual(30);
    expect(a.acked + b.acked).toBeLessThan(50);
    for (const error of [...a.refused, ...b.refused]) expect(error).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    await cluster.close();
  }, 60_000);
});
