import { encodePush } from '../../src/protocol';
import { PRESENCE_BATCH_MS } from '../../src/realtime/presence-batcher';
import WebSocket from 'ws';
import { TestClient, sleep } from '../helpers/client';
import { startRoom } from '../helpers/room';
import { startServer, FAST_SENDER } from '../helpers/server';

/** Tries an upgrade and reports the HTTP status of a refusal, or 101 when it opened. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', (err) => {
      if (!String(err.message).includes('Unexpected server response')) reject(err);
    });
  });
}

describe('gateway: origin, frame limits, heartbeat, cleanup', () => {
  test('cross-site upgrades are refused with 403; own origin, listed origins and no origin are allowed', async () => {
    const s = await startServer({ allowedOrigins: ['https://friend.example'] });
    const host = new URL(s.url).host;
    expect(await upgradeStatus(s.wsUrl, { Origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(s.wsUrl, { Origin: `http://${host}.evil.example` })).toBe(403);
    expect(await upgradeStatus(s.wsUrl, { Origin: 'null' })).toBe(403);
    expect(await upgradeStatus(s.wsUrl, { Origin: s.url })).toBe(101);
    expect(await upgradeStatus(s.wsUrl, { Origin: 'https://friend.example' })).toBe(101);
    expect(await upgradeStatus(s.wsUrl, {})).toBe(101);
    expect(s.app.hub.connections.size).toBeLessThanOrEqual(3);
  });

  test('a frame over MAX_PAYLOAD closes that socket with 1009; others carry on', async () => {
    const s = await startServer({ maxPayload: 4096 });
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    a.sendRaw(JSON.stringify({ event: 'register', data: { name: 'x'.repeat(5000) } }));
    expect((await a.closed).code).toBe(1009);
    expect((await b.request('chatrooms')).rooms).toEqual([]);
  });

  test('a text frame that is not valid UTF-8 closes with 1007', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    a.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await a.closed).code).toBe(1007);
  });

  test('heartbeat: a client that does not answer pings is terminated; one that does stays', async () => {
    const s = await startServer({ heartbeatMs: 100 });
    const silent = await TestClient.connect(s.wsUrl, { autoPong: false });
    const lively = await TestClient.connect(s.wsUrl);
    const closed = await silent.closed;
    expect(closed.code).toBe(1006); // terminated: no closing handshake
    await sleep(350);
    expect(lively.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.app.hub.connections.size).toBe(1);
  });

  test('heartbeat pings are spread over the round, each socket pinged once per round', async () => {
    const s = await startServer({ heartbeatMs: 1000 }); // 4 slices of 250 ms
    const clients = await Promise.all(Array.from({ length: 8 }, () => TestClient.connect(s.wsUrl)));
    const pings: number[][] = clients.map(() => []);
    const start = Date.now();
    clients.forEach((c, i) => c.ws.on('ping', () => pings[i].push(Date.now() - start)));
    await sleep(2100);
    // Every socket got about one ping per second, never a burst...
    for (const times of pings) expect(times.length).toBeGreaterThanOrEqual(1);
    for (const times of pings) expect(times.length).toBeLessThanOrEqual(3);
    // ...and not all in the same turn: the first pings span most of a round.
    const firsts = pings.map((t) => t[0]);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThanOrEqual(500);
    expect(s.app.hub.connections.size).toBe(8);
  });

  test('a slow consumer past OUTBOX_LIMIT is cut off; it recovers with join + since', async () => {
    const s = await startServer({ outboxLimit: 16 * 1024, ...FAST_SENDER });
    const sender = await TestClient.connect(s.wsUrl);
    const room = await sender.request('create', { title: 'firehose', max: 100 });
    await sender.request('join', { room: room.id });
    const slow = await TestClient.connect(s.wsUrl);
    await slow.request('join', { room: room.id });
    (slow.ws as any)._socket.pause(); // stop reading: the server's writes pile up
    const big = '\u{1D4B3}'.repeat(4000); // 4000 characters, 16 KB of UTF-8
    for (let i = 0; i < 100 && s.app.hub.connections.size === 2; i++) {
      await Promise.all(Array.from({ length: 20 }, () => sender.request('message', { room: room.id, text: big })));
    }
    expect(s.app.hub.connections.size).toBe(1);
    expect(s.app.hub.stats.slowConsumers).toBe(1);
    (slow.ws as any)._socket.resume();
    await slow.closed;
    const seen = Math.max(0, ...slow.all('message').map((m) => m.seq));
    const back = await TestClient.connect(s.wsUrl);
    const got = slow.all('message').map((m) => m.seq);
    // Resume pages are bounded in bytes (MAX_REPLY_BYTES): join again with the last seq while `more`.
    for (let since = seen, more = true; more; ) {
      const resumed = await back.request('join', { room: room.id, since });
      got.push(...resumed.history.filter((e: any) => e.text).map((e: any) => e.seq));
      since = resumed.history[resumed.history.length - 1]?.seq ?? since;
      more = resumed.more === true;
    }
    const expected = (await s.app.store.entriesAfter(room.id, 0, 10_000)).filter((e: any) => e.text).map((e) => e.seq);
    expect(expected.length).toBeGreaterThan(20);
    expect(got).toEqual(expected);
  });

  test('every per-socket listener, timer and record is released on close', async () => {
    const s = await startServer({ heartbeatMs: 1000, presenceGraceMs: 200, sweepMs: 50, socketsPerIp: 1000 }); // 40 a round, the last round's maybe still closing
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'busy', max: 1000 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await sleep(1100); // let the lobby's roomUpdated window pass
    const baseline = { timers: timers(), upgrade: s.app.server.listenerCount('upgrade') };
    for (let round = 0; round < 5; round++) {
      const clients = await Promise.all(Array.from({ length: 40 }, () => TestClient.connect(s.wsUrl)));
      await Promise.all(clients.map((c) => c.request('join', { room: room.id })));
      await Promise.all(clients.map((c, i) => c.request('typing', { room: room.id }).then(() => (i % 2 ? c.close() : c.drop()))));
    }
    await sleep(1100);
    const { chat, hub } = s.app;
    await owner.request('chatrooms');
    expect(hub.connections.size).toBe(1);
    expect(await chat.users()).toHaveLength(1);
    expect(hub.socketsIn(room.id)).toBe(0);
    expect(await chat.members(room.id)).toEqual([]); // their grace (200 ms) is over
    // The presence throttle keeps its tick for up to two intervals after the last left entry; the sweep's timer stays.
    for (const stopAt = Date.now() + 2 * PRESENCE_BATCH_MS + 500; timers() > baseline.timers && Date.now() < stopAt; ) await sleep(50);
    expect(timers()).toBeLessThanOrEqual(baseline.timers);
    expect(s.app.server.listenerCount('upgrade')).toBe(baseline.upgrade);
    const [conn] = hub.connections;
    expect(conn.ws.listenerCount('message')).toBe(1);
  });

  test('no frame is sent to a socket that is not open', async () => {
    const {
      s,
      clients: [, b],
    } = await startRoom(2);
    const [connB] = [...s.app.hub.connections].filter((c) => c.user.info.id === b.user.id);
    const sent = s.app.hub.stats.framesOut;
    connB.ws.close(); // closing, not yet closed
    connB.send(encodePush('x', {}));
    expect(s.app.hub.stats.framesOut).toBe(sent);
  });
});
