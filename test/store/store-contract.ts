import { Store } from '../../src/store/store';

const alice = { id: 'u_a', name: 'Alice', color: '#c0392b' };
const bob = { id: 'u_b', name: 'Bob', color: '#2980b9' };

/**
 * The behaviour every Store implementation must have. Call it from each
 * implementation's test file with a factory that opens a fresh store.
 */
export function storeContract(name: string, open: () => Promise<{ store: Store; reopen: () => Promise<Store> }>): void {
  describe(`${name} store contract`, () => {
    let store: Store;
    let reopen: () => Promise<Store>;
    beforeEach(async () => {
      ({ store, reopen } = await open());
    });
    afterEach(async () => {
      await store.close();
    });

    const room = (id: string, createdAt = 1) => ({ id, title: `t-${id}`, max: 10, passwordHash: null, owner: alice, createdAt });

    test('rooms: create, list oldest first with lastSeq, set owner, delete with history', async () => {
      await store.commit([{ op: 'createRoom', room: room('r2', 2) }, { op: 'createRoom', room: { ...room('r1', 1), passwordHash: 'scrypt$x$y' } }]);
      await store.commit([{ op: 'append', entry: { room: 'r1', seq: 1, kind: 'joined', user: alice, ts: 50 } }]);
      await store.commit([{ op: 'setOwner', room: 'r1', owner: bob }]);
      const rooms = await store.loadRooms();
      expect(rooms).toEqual([
        { ...room('r1', 1), passwordHash: 'scrypt$x$y', owner: bob, lastSeq: 1, lastActivity: 50 },
        { ...room('r2', 2), lastSeq: 0, lastActivity: 2 },
      ]);
      await store.commit([{ op: 'deleteRoom', room: 'r1' }]);
      expect((await store.loadRooms()).map((r) => r.id)).toEqual(['r2']);
      expect(await store.entriesAfter('r1', 0, 10)).toEqual([]);
    });

    test('entries: after, before, latest, with exact shapes', async () => {
      await store.commit([{ op: 'createRoom', room: room('r') }]);
      const entries = [
        { room: 'r', seq: 1, kind: 'joined' as const, user: alice, ts: 10 },
        { room: 'r', seq: 2, user: alice, text: 'hi', ts: 11, nonce: 'n1' },
        { room: 'r', seq: 3, user: bob, gif: '/gif/abc.gif', ts: 12 },
        { room: 'r', seq: 4, user: bob, text: 'plain', ts: 13 },
        { room: 'r', seq: 5, kind: 'left' as const, user: bob, ts: 14 },
      ];
      await store.commit(entries.map((entry) => ({ op: 'append' as const, entry })));
      expect(await store.entriesAfter('r', 0, 100)).toEqual(entries);
      expect(await store.entriesAfter('r', 2, 2)).toEqual(entries.slice(2, 4));
      expect(await store.entriesBefore('r', undefined, 2)).toEqual(entries.slice(3));
      expect(await store.entriesBefore('r', 4, 2)).toEqual(entries.slice(1, 3));
      expect(await store.entriesBefore('r', 1, 10)).toEqual([]);
      expect(await store.findByNonce('r', alice.id, 'n1')).toEqual(entries[1]);
      expect(await store.findByNonce('r', bob.id, 'n1')).toBeUndefined();
    });

    test('a batch is all or nothing', async () => {
      await store.commit([{ op: 'createRoom', room: room('r') }]);
      const entry = { room: 'r', seq: 1, user: alice, text: 'x', ts: 1 };
      await store.commit([{ op: 'append', entry }]);
      await expect(store.commit([{ op: 'append', entry: { ...entry, seq: 2 } }, { op: 'append', entry }])).rejects.toThrow(Error);
      expect((await store.entriesAfter('r', 0, 10)).map((e) => e.seq)).toEqual([1]);
    });

    test('sessions: set, get, touch, expire, destroy, prune', async () => {
      await store.setSession('s1', '{"a":1}', 1000);
      expect(await store.getSession('s1', 999)).toBe('{"a":1}');
      expect(await store.getSession('s1', 1000)).toBeUndefined();
      await store.touchSession('s1', 2000);
      expect(await store.getSession('s1', 1500)).toBe('{"a":1}');
      await store.setSession('s1', '{"a":2}', 2000);
      expect(await store.getSession('s1', 1500)).toBe('{"a":2}');
      await store.setSession('s2', '{}', 100);
      expect(await store.pruneSessions(500)).toBe(1);
      await store.destroySession('s1');
      expect(await store.getSession('s1', 0)).toBeUndefined();
    });

    test('committed data survives closing and reopening', async () => {
      await store.commit([{ op: 'createRoom', room: room('r') }, { op: 'append', entry: { room: 'r', seq: 1, user: alice, text: 'kept', ts: 5 } }]);
      await store.close();
      store = await reopen();
      expect((await store.entriesAfter('r', 0, 10))[0]).toMatchObject({ text: 'kept' });
      await store.close(); // closing twice is safe
      store = await reopen();
    });
  });
}
