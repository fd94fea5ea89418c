import { MAX_BATCH_BYTES, MAX_BATCH_ROOMS, MAX_INTERVAL_MS, RoomUpdates, SOCKETS_PER_SECOND } from '../../src/chat/room-updates';
import { RoomInfo } from '../../src/protocol';

const owner = { id: 'u_o', name: 'O', color: '#123456' };
const info = (id: string, members = 1): RoomInfo => ({ id, title: id, max: 10, members, locked: false, owner, lastActivity: 1 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('room updates: coalesced lobby announcements', () => {
  test('rooms touched within an interval are announced together, once each, as they are at send time', async () => {
    const counts = new Map<string, number>();
    const sent: RoomInfo[][] = [];
    const updates = new RoomUpdates(
      50,
      async (ids) => ids.filter((id) => id !== 'gone').map((id) => info(id, counts.get(id) ?? 0)),
      (rooms) => sent.push(rooms),
      () => 1,
      (err) => {
        throw err;
      },
      () => sent.push([]),
    );
    for (let i = 1; i <= 5; i++) {
      counts.set('a', i);
      updates.touch('a');
    }
    updates.touch('b');
    updates.touch('gone'); // deleted meanwhile: left out
    await sleep(20);
    expect(sent).toEqual([[info('a', 5), info('b', 0)]]);
    updates.touch('a'); // within the interval after a send: waits for it
    await sleep(10);
    expect(sent).toHaveLength(1);
    await sleep(80);
    expect(sent).toHaveLength(2);
    updates.close();
  });

  test('a failed read is reported, and the rooms touched meanwhile are announced at the next interval', async () => {
    const errors: unknown[] = [];
    const sent: RoomInfo[][] = [];
    let fail = true;
    const updates = new RoomUpdates(
      30,
      async (ids) => {
        if (fail) {
          fail = false;
          throw new Error('store down');
        }
        return ids.map((id) => info(id));
      },
      (rooms) => sent.push(rooms),
      () => 1,
      (err) => errors.push(err),
      () => {},
    );
    updates.touch('a');
    await sleep(10);
    expect(errors).toHaveLength(1);
    updates.touch('b');
    await sleep(60);
    expect(sent).toEqual([[info('b')]]);
    updates.close();
    updates.touch('c'); // closed: nothing more
    await sleep(60);
    expect(sent).toHaveLength(1);
  });

  test('the interval stretches with the audience, up to its cap', () => {
    let audience = 0;
    const updates = new RoomUpdates(1000, async () => [], () => {}, () => audience, () => {}, () => {});
    expect(updates.interval()).toBe(1000);
    audience = SOCKETS_PER_SECOND * 3;
    expect(updates.interval()).toBe(3000);
    audience = SOCKETS_PER_SECOND * 1000;
    expect(updates.interval()).toBe(MAX_INTERVAL_MS);
    updates.close();
  });

  test('a batch past MAX_BATCH_ROOMS rooms or MAX_BATCH_BYTES is replaced by one "changed" (without reading the rooms); smaller ones are listed', async () => {
    const sent: RoomInfo[][] = [];
    let changed = 0;
    let reads = 0;
    let title = 'short';
    const updates = new RoomUpdates(
      20,
      async (ids) => (reads++, ids.map((id) => ({ ...info(id), title }))),
      (rooms) => sent.push(rooms),
      () => 1,
      (err) => {
        throw err;
      },
      () => changed++,
    );
    for (let i = 0; i < MAX_BATCH_ROOMS + 1; i++) updates.touch(`r${i}`);
    await sleep(40);
    expect([changed, reads, sent.length]).toEqual([1, 0, 0]);
    for (let i = 0; i < MAX_BATCH_ROOMS; i++) updates.touch(`r${i}`);
    await sleep(40);
    expect([changed, reads, sent.length, sent[0]?.length]).toEqual([1, 1, 1, MAX_BATCH_ROOMS]);
    title = 'Ω'.repeat(Math.ceil(MAX_BATCH_BYTES / 2 / 100)); // 100 rooms of those pass the byte bound
    for (let i = 0; i < 100; i++) updates.touch(`r${i}`);
    await sleep(40);
    expect([changed, reads, sent.length]).toEqual([2, 2, 1]);
    updates.close();
  });
});
