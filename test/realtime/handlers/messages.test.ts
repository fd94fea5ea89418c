import { TestClient } from '../../helpers/client';
import { startRoom as roomWith } from '../../helpers/room';
import { startServer, FAST_SENDER } from '../../helpers/server';

describe('message, history, typing, whisper', () => {
  test('a message is acked with its entry and pushed once to every socket in the room, sender included', async () => {
    const { clients, room } = await roomWith(3);
    const [a, b, c] = clients;
    const got = clients.map((x) => x.next('message'));
    const entry = await a.request('message', { room: room.id, text: '<img src=x onerror=alert(1)> héllo 🎉' });
    expect(entry).toEqual({ room: room.id, seq: 4, user: a.user, text: '<img src=x onerror=alert(1)> héllo 🎉', ts: expect.any(Number) });
    for (const f of await Promise.all(got)) expect(f.data).toEqual(entry);
    await b.request('chatrooms'); // a round trip later, still exactly one copy each
    for (const x of [a, b, c]) expect(x.all('message')).toHaveLength(1);
  });

  test('message validation and membership', async () => {
    const { s, clients, room } = await roomWith(1);
    const [a] = clients;
    const outsider = await TestClient.connect(s.wsUrl);
    await expect(outsider.request('message', { room: room.id, text: 'hi' })).rejects.toMatchObject({ code: 'not_joined' });
    await expect(outsider.request('history', { room: room.id })).rejects.toMatchObject({ code: 'not_joined' });
    await expect(outsider.request('typing', { room: room.id })).rejects.toMatchObject({ code: 'not_joined' });
    await expect(a.request('message', { room: 'nope', text: 'hi' })).rejects.toMatchObject({ code: 'not_found' });
    for (const data of [{ room: room.id }, { room: room.id, text: '' }, { room: room.id, text: 'x'.repeat(4001) }, { room: room.id, text: ['x'] }, { room: room.id, text: 'x', nonce: 5 }, { text: 'x' }]) {
      const reply = await a.call('message', data);
      expect(reply.data.code).toBe('invalid_data');
    }
    // 4000 characters is allowed, counted as characters (emoji count once).
    await a.request('message', { room: room.id, text: '🎉'.repeat(4000) });
    expect(outsider.all('message')).toHaveLength(0);
  });

  test('a retry with the same nonce returns the original entry and is neither stored nor pushed twice', async () => {
    const { s, clients, room } = await roomWith(2);
    const [a, b] = clients;
    const first = await a.request('message', { room: room.id, text: 'once', nonce: 'n-1' });
    const again = await a.request('message', { room: room.id, text: 'once', nonce: 'n-1' });
    expect(again).toEqual(first);
    // Concurrent retries while the first is still in flight.
    const burst = await Promise.all([1, 2, 3].map(() => a.request('message', { room: room.id, text: 'burst', nonce: 'n-2' })));
    expect(new Set(burst.map((e) => e.seq)).size).toBe(1);
    // Same nonce from another user is another message.
    const other = await b.request('message', { room: room.id, text: 'mine', nonce: 'n-1' });
    expect(other.seq).not.toBe(first.seq);
    await a.request('chatrooms');
    const texts = b.all('message').map((m) => m.text);
    expect(texts).toEqual(['once', 'burst', 'mine']);
    const stored = await s.app.store.entriesAfter(room.id, 0, 100);
    expect(stored.filter((e: any) => e.text === 'once' || e.text === 'burst')).toHaveLength(2);
  });

  test('frames of one socket keep their order: join then message pipelined without waiting', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r' });
    const replies = [a.call('join', { room: room.id })];
    for (let i = 0; i < 10; i++) replies.push(a.call('message', { room: room.id, text: `m${i}`, ...(i % 2 ? { nonce: `k${i}` } : {}) }));
    const done = await Promise.all(replies);
    expect(done.map((f) => f.event)).toEqual(Array(11).fill('ack'));
    expect(done.slice(1).map((f) => f.data.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    const seqs = done.slice(1).map((f) => f.data.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  });

  test('history pages back, oldest first, with before and limit', async () => {
    const { clients, room } = await roomWith(1, { ...FAST_SENDER });
    const [a] = clients;
    for (let i = 1; i <= 120; i++) await a.request('message', { room: room.id, text: `m${i}` });
    // seq 1 is a's join; messages are seq 2..121
    const latest = await a.request('history', { room: room.id });
    expect(latest).toHaveLength(50);
    expect(latest[0].seq).toBe(72);
    expect(latest[49].seq).toBe(121);
    const older = await a.request('history', { room: room.id, before: 72, limit: 100 });
    expect(older.map((e: any) => e.seq)).toEqual(Array.from({ length: 71 }, (_, i) => i + 1));
    const first = await a.request('history', { room: room.id, before: 2 });
    expect(first).toEqual([{ room: room.id, seq: 1, kind: 'joined', user: a.user, ts: expect.any(Number) }]);
    for (const data of [{ room: room.id, limit: 0 }, { room: room.id, limit: 101 }, { room: room.id, before: 0 }, { room: room.id, before: 'x' }]) {
      expect((await a.call('history', data)).data.code).toBe('invalid_data');
    }
  });

  test('join without since returns the latest 50; the join ack of a password room holds its history only with the password', async () => {
    const s = await startServer({ ...FAST_SENDER });
    const a = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'secret', password: 'pw' });
    await a.request('join', { room: room.id, password: 'pw' });
    for (let i = 0; i < 60; i++) await a.request('message', { room: room.id, text: `s${i}` });
    const b = await TestClient.connect(s.wsUrl);
    await expect(b.request('history', { room: room.id })).rejects.toMatchObject({ code: 'not_joined' });
    const joined = await b.request('join', { room: room.id, password: 'pw' });
    expect(joined.history).toHaveLength(50);
    expect(joined.history[49].text).toBe('s59');
  });

  test('typing reaches the other members only, and is not stored', async () => {
    const { s, clients, room } = await roomWith(3);
    const [a, b, c] = clients;
    const atB = b.next('typing');
    const atC = c.next('typing');
    expect(await a.request('typing', { room: room.id })).toEqual({});
    expect((await atB).data).toEqual({ room: room.id, user: a.user });
    expect((await atC).data).toEqual({ room: room.id, user: a.user });
    a.sendRaw(JSON.stringify({ event: 'typing', data: { room: room.id } })); // no id: no ack
    await b.next('typing');
    await a.request('chatrooms');
    expect(a.all('typing')).toHaveLength(0);
    expect(a.frames.filter((f) => f.event === 'ack' && f.id === undefined)).toHaveLength(0);
    expect((await s.app.store.entriesAfter(room.id, 0, 100)).length).toBe(3);
  });

  test('whisper goes to every socket of the target and the sender only', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const c = await TestClient.connect(s.wsUrl);
    const atB = b.next('whisper');
    const atA = a.next('whisper');
    const entry = await a.request('whisper', { to: b.user.id, text: 'psst' });
    expect(entry).toEqual({ id: expect.any(String), from: a.user, to: b.user, text: 'psst', ts: expect.any(Number) });
    expect((await atB).data).toEqual(entry);
    expect((await atA).data).toEqual(entry);
    await c.request('chatrooms');
    expect(c.all('whisper')).toHaveLength(0);
    await expect(a.request('whisper', { to: 'u_nobody', text: 'x' })).rejects.toMatchObject({ code: 'not_found' });
    await b.close();
    await expect(a.request('whisper', { to: b.user.id, text: 'gone?' })).rejects.toMatchObject({ code: 'not_found' });
    expect((await a.call('whisper', { to: c.user.id, text: '' })).data.code).toBe('invalid_data');
  });
});
