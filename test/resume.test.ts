import { TestClient, sleep } from './helpers/client';
import { startServer, FAST_SENDER } from './helpers/server';

const seqOf = (c: TestClient, room: string, from = 0) =>
  c.frames
    .slice(from)
    .filter((f) => (f.event === 'message' || f.event === 'system') && f.data.room === room)
    .map((f) => f.data.seq as number);

describe('ordering and resume', () => {
  test('a reconnect with since under concurrent sending misses nothing and doubles nothing', async () => {
    const s = await startServer({ ...FAST_SENDER });
    const senders = await Promise.all([1, 2, 3].map(() => TestClient.connect(s.wsUrl)));
    const room = await senders[0].request('create', { title: 'busy', max: 100 });
    for (const x of senders) await x.request('join', { room: room.id });

    let sending = true;
    const loops = senders.map(async (x, n) => {
      for (let i = 0; sending; i++) {
        await x.request('message', { room: room.id, text: `${n}:${i}`, nonce: `${n}-${i}` });
        if (i % 10 === 0) await sleep(1);
      }
    });

    // The reader joins, then drops and resumes with since = the last seq it saw, several times.
    const seen: number[] = [];
    const session = async (since: number) => {
      const reader = await TestClient.connect(s.wsUrl);
      const reply = await reader.call('join', { room: room.id, since });
      expect(reply.event).toBe('ack');
      expect(reply.data.more).toBeUndefined();
      // What this session saw: the ack's history, then every push after the ack.
      return { reader, seen: () => [...reply.data.history.map((e: any) => e.seq), ...seqOf(reader, room.id, reader.frames.indexOf(reply) + 1)] };
    };
    let current = await session(0);
    for (let round = 0; round < 6; round++) {
      await sleep(40 + round * 10);
      current.reader.drop();
      await current.reader.closed;
      seen.push(...current.seen());
      current = await session(Math.max(0, ...seen));
    }
    sending = false;
    await Promise.all(loops);
    await current.reader.request('chatrooms');
    await sleep(50);
    seen.push(...current.seen());

    const stored = (await s.app.store.entriesAfter(room.id, 0, 100_000)).map((e) => e.seq);
    const lastSeen = seen[seen.length - 1];
    expect(stored.length).toBeGreaterThan(100);
    // Exactly the stored sequence, from the first entry to the last one seen: no gap, no duplicate.
    expect(seen).toEqual(stored.slice(0, stored.indexOf(lastSeen) + 1));
  });

  test('every member receives every entry exactly once, in seq order, while several members send at once', async () => {
    const s = await startServer({ ...FAST_SENDER });
    const clients = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(s.wsUrl)));
    const room = await clients[0].request('create', { title: 'r', max: 100 });
    for (const c of clients) await c.request('join', { room: room.id });
    await Promise.all(clients.map((c, n) => Promise.all(Array.from({ length: 40 }, (_, i) => c.request('message', { room: room.id, text: `${n}.${i}` })))));
    await Promise.all(clients.map((c) => c.request('chatrooms')));
    const total = 5 + 5 * 40;
    for (const [n, c] of clients.entries()) {
      const seqs = seqOf(c, room.id);
      // The n-th client joined at seq n+1 and sees its own join entry and everything after it.
      expect(seqs).toEqual(Array.from({ length: total - n }, (_, i) => n + 1 + i));
    }
  });

  test('since: 0 returns everything; a capped resume says more: true and the next join continues', async () => {
    const s = await startServer({ resumeLimit: 10, ...FAST_SENDER });
    const a = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r' });
    await a.request('join', { room: room.id });
    for (let i = 0; i < 24; i++) await a.request('message', { room: room.id, text: `m${i}` });
    const b = await TestClient.connect(s.wsUrl);
    const first = await b.request('join', { room: room.id, since: 0 });
    expect(first.more).toBe(true);
    expect(first.history.map((e: any) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    // While behind, live pushes are held back; the next joins fetch them from history instead.
    await a.request('message', { room: room.id, text: 'while behind' });
    const second = await b.request('join', { room: room.id, since: 10 });
    expect(second.more).toBe(true);
    const third = await b.request('join', { room: room.id, since: 20 });
    expect(third.more).toBeUndefined();
    const all = [...first.history, ...second.history, ...third.history].map((e: any) => e.seq);
    await a.request('message', { room: room.id, text: 'live again' });
    await b.next('message', (d) => d.text === 'live again');
    const live = seqOf(b, room.id);
    expect([...all, ...live]).toEqual(Array.from({ length: all.length + live.length }, (_, i) => i + 1));
    expect(all.length).toBe(27); // a's join, 24 messages, b's join, 'while behind'
  });
});
