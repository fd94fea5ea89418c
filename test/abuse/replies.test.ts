import WebSocket from 'ws';
import { sleep, TestClient } from '../helpers/client';
import { startRoom } from '../helpers/room';
import { browserSession, FAST_SENDER, startServer } from '../helpers/server';

// Replies and pages are bounded in bytes, and a requester is never cut off for what it
// asked for (that unread pushes still cut a slow consumer off is shown in
// test/realtime/gateway.test.ts). Everything runs against a real server on 127.0.0.1 with real `ws` clients.

/** Large messages: 4000 two-byte characters, about 8 KB of JSON each. */
const big = (i: number) => `${'é'.repeat(3990)} ${String(i).padStart(6, '0')}`;

/** Posts `n` large messages to the room, pipelined in runs of 50. */
async function fill(client: TestClient, room: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => client.request('message', { room, text: big(i + k) })));
  }
}

/** Records the size of every frame the client receives. */
function frameSizes(client: TestClient): number[] {
  const sizes: number[] = [];
  client.ws.on('message', (raw: Buffer) => sizes.push(raw.length));
  return sizes;
}

describe('bounded replies', () => {
  jest.setTimeout(60_000);

  test('resume after 1000 large messages: every join reply stays within MAX_REPLY_BYTES, the socket stays open, and paging with since gets every entry once', async () => {
    // Tried: 1000 messages of ~8 KB, then `join` with since=0 again and again. Before, one
    // reply held all of them (~8 MB, past OUTBOX_LIMIT): the requester was cut every time.
    const { s, clients, room } = await startRoom(1, { ...FAST_SENDER, readBytesPerSec: 1 << 30 });
    await fill(clients[0], room.id, 1000);
    const reader = await TestClient.connect(s.wsUrl);
    const sizes = frameSizes(reader);
    const seqs: number[] = [];
    let since = 0;
    let joins = 0;
    for (;;) {
      const ack = await reader.request('join', { room: room.id, since });
      joins++;
      expect(ack.history.length).toBeGreaterThan(0);
      seqs.push(...ack.history.map((e: { seq: number }) => e.seq));
      since = ack.history[ack.history.length - 1].seq;
      if (!ack.more) break;
      expect(joins).toBeLessThan(200);
    }
    expect(joins).toBeGreaterThan(1);
    // Every entry once, in order: 1 `joined` + 1000 messages (+ the reader's own `joined`, maybe, which may come as a push).
    const pushed = reader.all('system').map((e: { seq: number }) => e.seq);
    const all = [...seqs, ...pushed.filter((seq: number) => seq > since)];
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(all.length).toBeGreaterThanOrEqual(1001);
    // No reply frame went past the budget (plus the room and members around the entries).
    expect(Math.max(...sizes)).toBeLessThanOrEqual(s.config.maxReplyBytes + 4096);
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.app.hub.stats.slowConsumers).toBe(0);

    // `history` pages are bounded the same way: fewer entries than asked, the newest ones.
    const page = await reader.request('history', { room: room.id, limit: 100 });
    expect(page.length).toBeGreaterThan(0);
    expect(page.length).toBeLessThan(100);
    expect(page[page.length - 1].seq).toBe(since > 1001 ? since : 1001);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(s.config.maxReplyBytes + 4096);
  });

  test('a requester that does not read its replies is made to wait, not cut off: 40 pipelined joins since=0 all arrive', async () => {
    // Tried: a socket stops reading, sends 40 `join since=0` (40 x 256 KiB = 10 MiB of
    // replies, ten times OUTBOX_LIMIT), then reads again. Before, its unsent replies passed
    // OUTBOX_LIMIT and the server terminated it; now it stops reading its frames until the
    // replies drain, and every ack arrives.
    const { s, clients, room } = await startRoom(1, { ...FAST_SENDER, readBytesPerSec: 1 << 30 });
    await fill(clients[0], room.id, 200);
    const reader = await TestClient.connect(s.wsUrl);
    reader.ws.pause();
    const replies = Array.from({ length: 40 }, () => reader.call('join', { room: room.id, since: 0 }));
    await sleep(1000); // the server answers what it reads meanwhile into a buffer nobody drains
    reader.ws.resume();
    const frames = await Promise.all(replies);
    for (const frame of frames) {
      expect(frame.event).toBe('ack');
      expect(frame.data.more).toBe(true);
      expect(frame.data.history[0].seq).toBe(1);
    }
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.app.hub.stats.slowConsumers).toBe(0);
    // Still a working socket.
    expect((await reader.request('history', { room: room.id, limit: 1 })).length).toBe(1);
  });
});

describe('history read rate per address', () => {
  test('READ_BYTES_PER_SEC: an address asking for whole pages again and again gets rate_limited with retryAfterMs once past its rate; another address is not affected; after the wait it reads again', async () => {
    // Tried: 60 messages of ~8 KB, then `join` with since=0 back to back from one address, with
    // a rate of 64 KiB a second (256 KiB at once). Before, each small request cost a whole page
    // of work, and 10 such sockets took the people's p99 from 7 ms to 900 ms.
    const { s, clients, room } = await startRoom(1, { ...FAST_SENDER, readBytesPerSec: 64 * 1024, trustProxy: true });
    await fill(clients[0], room.id, 60);
    const reader = await TestClient.connect(s.wsUrl, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    const other = await TestClient.connect(s.wsUrl, { headers: { 'x-forwarded-for': '198.51.100.8' } });
    let read = 0;
    let refused: any;
    for (let i = 0; i < 20 && !refused; i++) {
      const reply = await reader.call('join', { room: room.id, since: 0 });
      if (reply.event === 'error') refused = reply.data;
      else read += reply.data.history.length;
    }
    // The burst (256 KiB, about 32 entries) and a little refill passed; then a refusal with its wait.
    expect(read).toBeGreaterThan(0);
    expect(refused).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    expect(refused.retryAfterMs).toBeLessThanOrEqual(4000);
    expect(reader.ws.readyState).toBe(WebSocket.OPEN); // refused, never cut
    // Pages are refused while it waits, whatever the request.
    expect((await reader.call('history', { room: room.id })).data.code).toBe('rate_limited');
    // Another address reads as usual.
    expect((await other.request('join', { room: room.id, since: 0 })).history.length).toBeGreaterThan(0);
    await sleep(refused.retryAfterMs + 100);
    expect((await reader.request('history', { room: room.id, limit: 5 })).length).toBe(5);
  });
});

describe('bounded lobby pages', () => {
  jest.setTimeout(60_000);

  /** 250 rooms with long titles, each active at its own time (room i at now + i ms). */
  async function manyRooms(maxReplyBytes?: number) {
    const s = await startServer(maxReplyBytes === undefined ? {} : { maxReplyBytes });
    const owner = { id: 'u_owner', name: 'Owner', color: '#c0392b' };
    const now = Date.now(); // recent: the expiry of idle rooms leaves them be
    for (let i = 1; i <= 250; i++) {
      await s.app.store.createRoom({ id: `r_${String(i).padStart(4, '0')}`, title: `${'Ω'.repeat(50)} ${i}`, max: 10, passwordHash: null, owner, createdAt: now + i });
    }
    return s;
  }

  test('chatrooms is paged: newest activity first, at most 100 rooms and MAX_REPLY_BYTES a page, a cursor to the rest; every room once', async () => {
    // Tried: a lobby of 250 rooms. Before, `chatrooms` answered every room at once (12,000
    // rooms made 5.2 MB, past OUTBOX_LIMIT: lobby sockets were cut every time they asked).
    for (const maxReplyBytes of [undefined, 8192]) {
      const s = await manyRooms(maxReplyBytes);
      const client = await TestClient.connect(s.wsUrl);
      const sizes = frameSizes(client);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await client.request('chatrooms', cursor === undefined ? undefined : { cursor });
        expect(page.rooms.length).toBeGreaterThan(0);
        expect(page.rooms.length).toBeLessThanOrEqual(100);
        seen.push(...page.rooms.map((r: { id: string }) => r.id));
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined && pages < 100);
      expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => `r_${String(250 - i).padStart(4, '0')}`));
      if (maxReplyBytes === undefined) expect(pages).toBe(3);
      else expect(pages).toBeGreaterThan(3);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(s.config.maxReplyBytes + 200);
      // A cursor the server did not give is refused, the socket stays.
      expect((await client.call('chatrooms', { cursor: 'not-a-cursor' })).data.code).toBe('invalid_data');
      expect((await client.call('chatrooms', { cursor: 42 })).data.code).toBe('invalid_data');
      await s.stop();
    }
  });

  test('the lobby page is paged the same way, with a "More rooms" link that works without script', async () => {
    const s = await manyRooms();
    const { cookie } = await browserSession(s.url);
    const seen: string[] = [];
    let next: string | undefined = '/';
    let pages = 0;
    while (next !== undefined && pages < 10) {
      const res: Response = await fetch(s.url + next, { headers: { cookie } });
      expect(res.status).toBe(200);
      const html = await res.text();
      seen.push(...[...html.matchAll(/data-room-id="([^"]+)"/g)].map((m) => m[1]));
      const more = /<a id="more-rooms"[^>]*href="([^"]+)"(?![^>]*hidden)[^>]*>/.exec(html);
      next = more ? more[1].replace(/&amp;/g, '&') : undefined;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => `r_${String(250 - i).padStart(4, '0')}`));
    expect((await fetch(`${s.url}/?cursor=bogus`, { headers: { cookie } })).status).toBe(400);
  });

  test('a rename of the owner of 2000 rooms sends every lobby one small roomsChanged, not 2000 roomUpdated; nobody is cut', async () => {
    // Tried: a user owning 2000 rooms renames (every room's owner name changes) while 20
    // lobby sockets listen. Before, every socket got one batch of 2000 roomUpdated frames
    // (~0.5 MB here; 3.9 MB for 12,000 rooms, which cut all 142 sockets of a test server).
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const now = Date.now();
    for (let i = 0; i < 2000; i++) {
      await s.app.store.createRoom({ id: `r_${i}`, title: `room ${i}`, max: 10, passwordHash: null, owner: owner.user, createdAt: now + i });
    }
    const lobbies = await Promise.all(Array.from({ length: 20 }, () => TestClient.connect(s.wsUrl)));
    const sizes = lobbies.map(frameSizes);
    const changed = lobbies.map((c) => c.next('roomsChanged'));
    await owner.request('register', { name: 'Renamed' });
    for (const frame of await Promise.all(changed)) expect(frame.data).toEqual({});
    await sleep(1500); // a further interval: nothing else follows
    for (const [i, lobby] of lobbies.entries()) {
      expect(lobby.all('roomUpdated')).toEqual([]);
      expect(Math.max(...sizes[i])).toBeLessThan(1024);
      expect(lobby.ws.readyState).toBe(WebSocket.OPEN);
    }
    expect(s.app.hub.stats.slowConsumers).toBe(0);
    // The refetch a lobby then makes is a bounded page showing the new name.
    const page = await lobbies[0].request('chatrooms');
    expect(page.rooms).toHaveLength(100);
    expect(page.rooms[0].owner.name).toBe('Renamed');
    expect(page.cursor).toEqual(expect.any(String));
  });

  test('the history cache holds at most HISTORY_CACHE_BYTES across rooms (gifchat_history_cache_bytes on /metrics)', async () => {
    // Tried: 40 rooms with a member each and 30 large (~8 KB) messages in each, every room
    // read: about 10 MB of cached tails unbounded (100 rooms held ~230 MB before), here 2 MiB.
    const budget = 2 * 1024 * 1024;
    const s = await startServer({ historyCacheBytes: budget, ...FAST_SENDER, roomsPerUser: 100, roomCreatesPerHour: 100 });
    const member = await TestClient.connect(s.wsUrl);
    const cached = async () => Number(/^gifchat_history_cache_bytes\{[^}]*\} (\d+)$/m.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1]);
    for (let r = 0; r < 40; r++) {
      const room = await member.request('create', { title: `room ${r}` });
      await member.request('join', { room: room.id });
      await Promise.all(Array.from({ length: 30 }, (_, i) => member.request('message', { room: room.id, text: big(i) })));
      const page = await member.request('history', { room: room.id, limit: 100 });
      expect(page[page.length - 1].seq).toBe(31);
      expect(await cached()).toBeLessThanOrEqual(budget);
    }
    expect(await cached()).toBeGreaterThan(budget / 2);
  });
});
