import { TestClient } from './helpers/client';
import { startServer, tempDataDir, FAST_SENDER } from './helpers/server';

describe('durability across a restart on the same DATA_DIR', () => {
  test('rooms, owners, passwords and history survive; seq continues', async () => {
    const dataDir = tempDataDir();
    const first = await startServer({ dataDir });
    const a = await TestClient.connect(first.wsUrl);
    const open = await a.request('create', { title: 'open room', max: 7 });
    const locked = await a.request('create', { title: 'locked', password: 'pw' });
    await a.request('join', { room: open.id });
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await a.request('message', { room: open.id, text: `m${i}`, nonce: `n${i}` }));
    await first.stop();

    const second = await startServer({ dataDir });
    const b = await TestClient.connect(second.wsUrl);
    const rooms = (await b.request('chatrooms')).rooms;
    expect(rooms.map((r: any) => [r.id, r.title, r.max, r.locked, r.owner.id, r.members]).sort()).toEqual(
      // Most recent activity first: rooms made in the same millisecond come in either order.
      [
      [open.id, 'open room', 7, false, a.user.id, 0],
      [locked.id, 'locked', 10, true, a.user.id, 0],
    ].sort());
    await expect(b.request('join', { room: locked.id, password: 'nope' })).rejects.toMatchObject({ code: 'forbidden' });
    await b.request('join', { room: locked.id, password: 'pw' });
    const joined = await b.request('join', { room: open.id, since: 0 });
    const messages = joined.history.filter((e: any) => e.text);
    expect(messages).toEqual(sent);
    const next = await b.request('message', { room: open.id, text: 'later' });
    expect(next.seq).toBe(joined.history[joined.history.length - 1].seq + 2); // b's own joined entry came in between
  });

  test('writes of one event-loop turn share one transaction', async () => {
    const s = await startServer({ dataDir: tempDataDir(), ...FAST_SENDER });
    const store = s.app.store;
    const commits: number[] = [];
    const append = store.append.bind(store);
    store.append = (ops) => {
      commits.push(ops.length);
      return append(ops);
    };
    const clients = await Promise.all(Array.from({ length: 10 }, () => TestClient.connect(s.wsUrl)));
    const room = await clients[0].request('create', { title: 'r', max: 100 });
    for (const c of clients) await c.request('join', { room: room.id });
    commits.length = 0;
    await Promise.all(clients.flatMap((c) => Array.from({ length: 20 }, (_, i) => c.request('message', { room: room.id, text: `t${i}` }))));
    expect(commits.reduce((x, y) => x + y, 0)).toBe(200);
    expect(commits.length).toBeLessThan(200 / 4); // grouped, not one transaction per message
  });
});
