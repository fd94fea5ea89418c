import { TestClient } from '../../helpers/client';
import { startRoom } from '../../helpers/room';
import { browserSession, startServer, FAST_SENDER } from '../../helpers/server';

describe('rooms: create, chatrooms, join, leave, delete', () => {
  test('create acks the room, pushes roomCreated to every client, and lists it in chatrooms', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const created = b.next('roomCreated');
    const room = await a.request('create', { title: '  Cats  ', max: 3, password: 'pw' });
    expect(room).toEqual({ id: expect.any(String), title: 'Cats', max: 3, members: 0, locked: true, owner: a.user, lastActivity: expect.any(Number) });
    expect((await created).data).toEqual(room);
    const rooms = (await b.request('chatrooms')).rooms;
    expect(rooms).toEqual([room]);
    expect(JSON.stringify(rooms)).not.toContain('pw');
    expect(JSON.stringify(rooms)).not.toContain('scrypt');
  });

  test('presence is batched: joins reach a member together, within the interval, and never after a later message', async () => {
    const { s, clients: [a], room } = await startRoom(1, { ...FAST_SENDER });
    await a.next('system', (e) => e.kind === 'joined', 0);
    const from = a.frames.length;
    const guests = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(s.wsUrl)));
    const started = Date.now();
    await Promise.all(guests.map((g) => g.request('join', { room: room.id })));
    await a.waitFor(() => a.frames.slice(from).filter((f) => f.event === 'system').length === 5, from, 2000);
    expect(Date.now() - started).toBeLessThan(1500);
    const joined = a.frames.slice(from).filter((f) => f.event === 'system');
    expect(new Set(joined.map((f) => f.data.user.id))).toEqual(new Set(guests.map((g) => g.user.id)));
    // A message right after a join: the waiting joined entry goes first, in seq order, without waiting.
    const late = await TestClient.connect(s.wsUrl);
    const mark = a.frames.length;
    await late.request('join', { room: room.id });
    const sent = await late.request('message', { room: room.id, text: 'hi' });
    const pushed = await a.next('message', (m) => m.seq === sent.seq, mark);
    const seen = a.frames.slice(mark).filter((f) => f.event === 'system' || f.event === 'message');
    expect(seen.map((f) => [f.event, f.data.seq])).toEqual([
      ['system', sent.seq - 1],
      ['message', sent.seq],
    ]);
    expect(pushed.data.text).toBe('hi');
  });

  test('a presence batch partly in a joiner history reaches it without the entries it already has', async () => {
    const { s, clients: [a], room } = await startRoom(1, { ...FAST_SENDER });
    await a.next('system', (e) => e.kind === 'joined', 0);
    // b's joined entry is committed but still waits in the room's batch when c joins.
    const b = await TestClient.connect(s.wsUrl);
    await b.request('join', { room: room.id });
    const c = await TestClient.connect(s.wsUrl);
    const joined = await c.request('join', { room: room.id });
    const bSeq = joined.history.find((e: any) => e.kind === 'joined' && e.user.id === b.user.id)?.seq;
    expect(bSeq).toBeGreaterThan(0);
    const own = await c.next('system', (e) => e.kind === 'joined' && e.user.id === c.user.id, 0);
    // a has everything once; c has b's entry once (from history) and its own once (pushed).
    await a.next('system', (e) => e.seq === own.data.seq, 0);
    const seqs = (client: TestClient) => client.frames.filter((f) => f.event === 'system').map((f) => f.data.seq);
    expect(seqs(c)).toEqual([own.data.seq]);
    expect(new Set(seqs(a)).size).toBe(seqs(a).length);
    expect(seqs(a)).toEqual(expect.arrayContaining([bSeq, own.data.seq]));
  });

  test('create defaults max to 10 and validates every field', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    expect((await a.request('create', { title: 'x' })).max).toBe(10);
    for (const [data, field] of [
      [{}, 'title'],
      [{ title: '' }, 'title'],
      [{ title: '   ' }, 'title'],
      [{ title: 'x'.repeat(65) }, 'title'],
      [{ title: 5 }, 'title'],
      [{ title: 'x', max: 1 }, 'max'],
      [{ title: 'x', max: 10001 }, 'max'],
      [{ title: 'x', max: 2.5 }, 'max'],
      [{ title: 'x', max: '5' }, 'max'],
      [{ title: 'x', password: 7 }, 'password'],
    ] as const) {
      const reply = await a.call('create', data);
      expect(reply.event).toBe('error');
      expect(reply.data.code).toBe('invalid_data');
      expect(reply.data.message).toContain(field);
    }
    const notObject = await a.call('create', 'hello');
    expect(notObject.data).toEqual({ code: 'invalid_data', message: 'data must be an object' });
  });

  test('join returns room, members and latest history; others get a joined entry once per user', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r' });
    const first = await a.request('join', { room: room.id });
    expect(first.members).toEqual([a.user]);
    expect(first.history).toEqual([]);
    const ownJoin = await a.next('system', (d) => d.user.id === a.user.id, 0);
    expect(ownJoin.data).toEqual({ room: room.id, seq: 1, kind: 'joined', user: a.user, ts: expect.any(Number) });

    const joinedPush = a.next('system', (d) => d.user.id === b.user.id);
    const second = await b.request('join', { room: room.id });
    expect(second.room.members).toBe(2);
    expect(second.members).toEqual([a.user, b.user]);
    expect(second.history.map((e: any) => e.seq)).toEqual([1]);
    expect((await joinedPush).data).toMatchObject({ kind: 'joined', seq: 2 });
  });

  test('a second tab of the same user shares identity, does not join twice nor count twice', async () => {
    const s = await startServer({ presenceGraceMs: 300, sweepMs: 50 });
    const { cookie } = await browserSession(s.url);
    const tab1 = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const tab2 = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(tab2.user).toEqual(tab1.user);
    const room = await tab1.request('create', { title: 'r', max: 2 });
    await tab1.request('join', { room: room.id });
    const b = await TestClient.connect(s.wsUrl);
    await b.request('join', { room: room.id });
    const joined = await tab2.request('join', { room: room.id }); // already in through tab1: not full
    expect(joined.room.members).toBe(2);
    expect(joined.members).toEqual([tab1.user, b.user]);
    const c = await TestClient.connect(s.wsUrl);
    await expect(c.request('join', { room: room.id })).rejects.toMatchObject({ code: 'room_full' });
    const stored = await s.app.store.entriesAfter(room.id, 0, 100);
    expect(stored.filter((e: any) => e.kind === 'joined' && e.user.id === tab1.user.id)).toHaveLength(1);
    expect(await b.request('availableUsers')).toHaveLength(3);
    // Closing one tab is not leaving: the user is still present through the other.
    await tab1.close();
    await b.request('message', { room: room.id, text: 'still here?' });
    expect(b.all('system').some((e) => e.kind === 'left')).toBe(false);
    // Closing the last tab starts the grace: `left` is recorded once it is over (300 ms here).
    const left = b.next('system', (d) => d.kind === 'left');
    const closedAt = Date.now();
    await tab2.close();
    expect((await left).data.user).toEqual(tab2.user);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(250);
  });

  test('join errors: unknown room, password missing or wrong, full', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const c = await TestClient.connect(s.wsUrl);
    await expect(a.request('join', { room: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    const locked = await a.request('create', { title: 'locked', max: 2, password: 'sesame' });
    await expect(b.request('join', { room: locked.id })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(b.request('join', { room: locked.id, password: 'wrong' })).rejects.toMatchObject({ code: 'forbidden' });
    await a.request('join', { room: locked.id, password: 'sesame' });
    await b.request('join', { room: locked.id, password: 'sesame' });
    await expect(c.request('join', { room: locked.id, password: 'sesame' })).rejects.toMatchObject({ code: 'room_full' });
    const reply = await c.call('join', { room: 5 });
    expect(reply.data.code).toBe('invalid_data');
    expect(reply.data.message).toContain('room');
  });

  test('leave: others get a left entry; leaving a room not joined is not_joined', async () => {
    const {
      clients: [a, b],
      room,
    } = await startRoom(2);
    const left = a.next('system', (d) => d.kind === 'left');
    expect(await b.request('leave', { room: room.id })).toEqual({});
    expect((await left).data).toMatchObject({ kind: 'left', user: b.user, seq: 3 });
    await expect(b.request('leave', { room: room.id })).rejects.toMatchObject({ code: 'not_joined' });
    await expect(b.request('leave', { room: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
  });

  test('closing the last socket leaves every room with a left entry once the grace is over', async () => {
    const s = await startServer({ presenceGraceMs: 200, sweepMs: 50 });
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const r1 = await a.request('create', { title: 'one' });
    const r2 = await a.request('create', { title: 'two' });
    for (const r of [r1, r2]) {
      await a.request('join', { room: r.id });
      await b.request('join', { room: r.id });
    }
    const lefts = Promise.all([r1, r2].map((r) => a.next('system', (d) => d.kind === 'left' && d.room === r.id)));
    await b.close();
    expect((await lefts).map((f) => f.data.user)).toEqual([b.user, b.user]);
    expect((await a.request('chatrooms')).rooms.map((r: any) => r.members)).toEqual([1, 1]);
  });

  test('a reload within the grace records nothing and keeps the place; an explicit leave is recorded at once', async () => {
    const s = await startServer({ presenceGraceMs: 5000, sweepMs: 50 });
    const { cookie } = await browserSession(s.url);
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r', max: 2 });
    await owner.request('join', { room: room.id });
    const tab = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    await tab.request('join', { room: room.id });
    await tab.close(); // a reload: the socket goes...
    const other = await TestClient.connect(s.wsUrl);
    // ...and while it is away its place is kept: the room is still full.
    await expect(other.request('join', { room: room.id })).rejects.toMatchObject({ code: 'room_full' });
    const back = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const rejoined = await back.request('join', { room: room.id });
    expect(rejoined.members).toEqual([owner.user, back.user]);
    await new Promise((r) => setTimeout(r, 200)); // a few sweeps
    const kinds = (await s.app.store.entriesAfter(room.id, 0, 100)).map((e: any) => `${e.kind}:${e.user.id}`);
    expect(kinds).toEqual([`joined:${owner.user.id}`, `joined:${back.user.id}`]);
    const left = owner.next('system', (d) => d.kind === 'left');
    await back.request('leave', { room: room.id });
    expect((await left).data.user).toEqual(back.user);
    await other.request('join', { room: room.id }); // the place is free at once
  });

  test('roomUpdated carries member count and owner, at most once per room per second', async () => {
    const s = await startServer();
    const watcher = await TestClient.connect(s.wsUrl);
    const a = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r', max: 50 });
    const from = watcher.frames.length;
    const clients = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(s.wsUrl)));
    for (const c of clients) await c.request('join', { room: room.id });
    const last = await watcher.next('roomUpdated', (d) => d.members === 6, from);
    const updates = watcher.frames.slice(from).filter((f) => f.event === 'roomUpdated');
    expect(updates.length).toBeLessThanOrEqual(2); // leading edge plus one trailing within the window
    expect(last.data).toMatchObject({ id: room.id, members: 6, owner: a.user });
  });

  test('delete: owner only; everyone gets roomRemoved; the room and its history are gone', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'doomed' });
    await a.request('join', { room: room.id });
    await b.request('join', { room: room.id });
    await a.request('message', { room: room.id, text: 'bye' });
    await expect(b.request('delete', { room: room.id })).rejects.toMatchObject({ code: 'forbidden' });
    const removed = b.next('roomRemoved');
    expect(await a.request('delete', { room: room.id })).toEqual({});
    expect((await removed).data).toEqual({ id: room.id });
    expect((await a.request('chatrooms')).rooms).toEqual([]);
    await expect(b.request('message', { room: room.id, text: 'x' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(a.request('delete', { room: room.id })).rejects.toMatchObject({ code: 'not_found' });
    expect(await s.app.store.entriesAfter(room.id, 0, 100)).toEqual([]);
  });

  test('a socket that closes while its join is checked leaves no ghost: it is gone from the room and offline', async () => {
    const s = await startServer({ presenceGraceMs: 100, sweepMs: 20 });
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'locked', password: 'meow' });
    await owner.request('join', { room: room.id, password: 'meow' });
    for (let i = 0; i < 5; i++) {
      const b = await TestClient.connect(s.wsUrl);
      b.sendRaw(JSON.stringify({ event: 'join', id: 1, data: { room: room.id, password: 'meow' } }));
      b.drop(); // gone while the password is hashed
    }
    // The checks take their turns in the hashing line: wait (bounded) until the last is done.
    const settled = async () => (await owner.request('availableUsers')).length === 1 && (await owner.request('join', { room: room.id })).members.length === 1;
    for (let i = 0; i < 100 && !(await settled()); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await owner.request('availableUsers')).map((u: any) => u.id)).toEqual([owner.user.id]);
    expect((await owner.request('join', { room: room.id })).members).toEqual([owner.user]);
    expect(s.app.hub.socketsIn(room.id)).toBe(1);
  });
});
