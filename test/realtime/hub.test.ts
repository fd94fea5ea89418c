import { roomTopic } from '../../src/bus/bus';
import { createMemoryBus } from '../../src/bus/memory-bus';
import { Entry } from '../../src/protocol';
import { GAP_WAIT_MS } from '../../src/realtime/hub';
import { AppendResult } from '../../src/store/store';
import { sleep, TestClient } from '../helpers/client';
import { startServer } from '../helpers/server';

const other = { id: 'u_elsewhere', name: 'Elsewhere', color: '#2980b9' };

/**
 * The hub puts a room's pushes in seq order whatever order the bus brings them in. Here
 * "another process" is played by the test: it commits entries to the app's own store and
 * publishes (or loses, or repeats) their facts on the app's bus, as a second server would.
 */
describe('hub: pushes in seq order, no hole, no duplicate', () => {
  async function setup() {
    const bus = createMemoryBus();
    const s = await startServer({}, { bus });
    const reader = await TestClient.connect(s.wsUrl);
    const room = await reader.request('create', { title: 'r', max: 10 });
    await reader.request('join', { room: room.id });
    // The reader's own `joined` entry: the room's head before "the other process" writes.
    const head: number = (await reader.next('system', (d) => d.kind === 'joined', 0)).data.seq;
    const commit = async (n: number): Promise<Entry[]> => {
      const results: AppendResult[] = await s.app.store.append(
        Array.from({ length: n }, (_, i) => ({ entry: { room: room.id, user: other, text: `elsewhere ${i}`, ts: Date.now() } })),
      );
      return results.map((r) => ('entry' in r ? r.entry : Promise.reject(new Error('refused')) as never));
    };
    const publish = (entry: Entry) => bus.publish(roomTopic(room.id), { type: 'entry', entry });
    const seqs = () => reader.all('message').map((m) => m.seq as number);
    return { s, reader, room, head, commit, publish, seqs };
  }

  test('entries published out of order reach the socket in order', async () => {
    const { head, commit, publish, seqs, reader } = await setup();
    const [a, b, c] = await commit(3);
    publish(b);
    publish(c);
    publish(a);
    await reader.next('message', (d) => d.seq === c.seq, 0);
    expect(seqs()).toEqual([head + 1, head + 2, head + 3]);
  });

  test('a lost push is filled from the store after a short wait, in order, before what came after it', async () => {
    const { head, commit, publish, seqs, reader } = await setup();
    const [, b, c] = await commit(3);
    publish(b); // the first one's push is lost
    publish(c);
    await sleep(GAP_WAIT_MS / 2);
    expect(seqs()).toEqual([]); // held while the hole may still close by itself
    await reader.next('message', (d) => d.seq === c.seq, 0);
    expect(seqs()).toEqual([head + 1, head + 2, head + 3]);
  });

  test('a push that arrives twice, or after the hole was filled, is sent once', async () => {
    const { head, commit, publish, seqs, reader } = await setup();
    const [a, b] = await commit(2);
    publish(a);
    publish(a);
    publish(b);
    publish(a);
    await reader.next('message', (d) => d.seq === b.seq, 0);
    await sleep(GAP_WAIT_MS * 2);
    expect(seqs()).toEqual([head + 1, head + 2]);
  });

  test('the history a join returns and the pushes after it join up with no hole, whatever the bus did', async () => {
    const { s, room, commit, publish, reader } = await setup();
    const [, b] = await commit(2);
    publish(b); // the first is lost; a newcomer joins while the hole is open
    const late = await TestClient.connect(s.wsUrl);
    const joined = await late.request('join', { room: room.id });
    const [c] = await commit(1);
    publish(c);
    await late.next('message', (d) => d.seq === c.seq, 0);
    await reader.next('message', (d) => d.seq === c.seq, 0);
    const got = [...joined.history.map((e: Entry) => e.seq), ...late.all('message').map((m) => m.seq), ...late.all('system').map((m) => m.seq)].sort((x, y) => x - y);
    const stored = (await s.app.store.entriesAfter(room.id, 0, 100)).map((e) => e.seq);
    expect(got).toEqual(stored);
  });

  test("a room's last entry whose push was lost is found by the head check (run on a timer, and after the bus reconnects)", async () => {
    const { s, head, commit, seqs, reader } = await setup();
    const [a] = await commit(1); // committed, never published (its server died in between)
    await sleep(GAP_WAIT_MS * 2);
    expect(seqs()).toEqual([]); // nothing after it to reveal the hole
    s.app.hub.checkHeads();
    await reader.next('message', (d) => d.seq === a.seq, 0);
    expect(seqs()).toEqual([head + 1]);
  });
});
