import { MAX_INTERVAL_MS, RoomUpdates, SOCKETS_PER_SECOND } from '../../src/chat/room-updates';
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
    const updates = new RoomUpdates(1000, async () => [], () => {}, () => audience, () => {});
    expect(updates.interval()).toBe(1000);
    audience = SOCKETS_PER_SECOND * 3;
    expect(updates.interval()).toBe(3000);
    audience = SOCKETS_PER_SECOND * 1000;
    expect(updates.interval()).toBe(MAX_INTERVAL_MS);
    updates.close();
  });
});
