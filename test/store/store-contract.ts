import { Entry, SystemKind, UserInfo } from '../../src/protocol/types';
import { AppendOp, AppendResult, NewEntry, RoomRecord, Store } from '../../src/store/store';

const alice = { id: 'u_a', name: 'Alice', color: '#c0392b' };
const bob = { id: 'u_b', name: 'Bob', color: '#2980b9' };
const carol = { id: 'u_c', name: 'Carol', color: '#27ae60' };

/** What a contract run gets from the implementation under test. */
export interface OpenedStore {
  /** A fresh, empty store. */
  store: Store;
  /** Opens the same storage again (after `store` was closed). */
  reopen: () => Promise<Store>;
  /** Opens a second handle on the same storage while `store` is open (another connection, as another process has). */
  second?: () => Promise<Store>;
}

const room = (id: string, createdAt = 1, owner: UserInfo = alice): RoomRecord => ({ id, title: `t-${id}`, max: 10, passwordHash: null, owner, createdAt });
const msg = (r: string, user: UserInfo, text: string, ts: number, nonce?: string): NewEntry =>
  nonce === undefined ? { room: r, user, text, ts } : { room: r, user, text, ts, nonce };
const sys = (r: string, kind: SystemKind, user: UserInfo, ts: number): NewEntry => ({ room: r, kind, user, ts });
const op = (entry: NewEntry, extra: Omit<AppendOp, 'entry'> = {}): AppendOp => ({ entry, ...extra });

/** The entry of a result that must have one. */
function entryOf(result: AppendResult | undefined): Entry {
  if (result === undefined || !('entry' in result)) throw new Error(`expected an entry, got ${JSON.stringify(result)}`);
  return result.entry;
}
const seqs = (results: AppendResult[]) => results.map((r) => ('entry' in r ? r.entry.seq : r.refused));

/**
 * The behaviour every Store implementation must have. Call it from each
 * implementation's test file with a factory that opens a fresh store.
 */
export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} store contract`, () => {
    let store: Store;
    let reopen: () => Promise<Store>;
    let second: (() => Promise<Store>) | undefined;
    const others: Store[] = [];
    beforeEach(async () => {
      ({ store, reopen, second } = await open());
    });
    afterEach(async () => {
      for (const other of others.splice(0)) await other.close();
      await store.close();
    });

    test('pruneEntries (retention): deletes old entries in bounded steps, oldest first, returning their GIFs; new entries, other rooms and the seq counter stay', async () => {
      await store.createRoom(room('old'));
      await store.createRoom(room('other'));
      const gifUrl = (i: number) => `/gif/${String(i).padStart(22, 'A')}.gif`;
      // ts 1..25 are old (before 100), ts 200..204 new; every fifth entry holds a GIF.
      const ops = Array.from({ length: 25 }, (_, i) =>
        op(i % 5 === 0 ? { room: 'old', user: alice, gif: gifUrl(i), width: 1, height: 1, ts: i + 1 } : msg('old', alice, `m${i}`, i + 1)),
      );
      await store.append([...ops, ...Array.from({ length: 5 }, (_, i) => op(msg('old', bob, `new${i}`, 200 + i))), op(msg('other', bob, 'o', 1))]);
      const first = await store.pruneEntries('old', 100, 10);
      expect(first).toEqual({ deleted: 10, gifs: [gifUrl(0), gifUrl(5)] });
      const steps = [first];
      while (steps[steps.length - 1].deleted === 10) steps.push(await store.pruneEntries('old', 100, 10));
      expect(steps.map((step) => step.deleted)).toEqual([10, 10, 5]);
      expect(steps.flatMap((step) => step.gifs)).toEqual([0, 5, 10, 15, 20].map(gifUrl));
      expect((await store.entriesAfter('old', 0, 100)).map((e) => e.seq)).toEqual([26, 27, 28, 29, 30]);
      expect(await store.pruneEntries('old', 100, 10)).toEqual({ deleted: 0, gifs: [] });
      expect(await store.entriesAfter('other', 0, 10)).toHaveLength(1);
      expect((await store.room('old'))!.lastSeq).toBe(30);
      const next = await store.append([op(msg('old', alice, 'after', 300))]);
      expect(entryOf(next[0]).seq).toBe(31);
    });

    test('usage: the bytes the database takes, above 0, and growing as entries are written', async () => {
      const empty = await store.usage();
      expect(empty).toBeGreaterThan(0);
      await store.createRoom(room('big'));
      for (let batch = 0; batch < 10; batch++) {
        await store.append(Array.from({ length: 50 }, (_, i) => op(msg('big', alice, 'x'.repeat(2000), batch * 50 + i + 1))));
      }
      expect(await store.usage()).toBeGreaterThan(empty);
    });

    test('rooms: create, read one, list oldest first, each with its counter at 0 and activity at creation', async () => {
      await store.createRoom(room('r2', 2));
      await store.createRoom({ ...room('r1', 1), passwordHash: 'scrypt$x$y' });
      await store.createRoom(room('r3', 2));
      const r1 = { ...room('r1', 1), passwordHash: 'scrypt$x$y', lastSeq: 0, lastActivity: 1, ownerAwaySince: null };
      expect(await store.room('r1')).toEqual(r1);
      expect(await store.room('nope')).toBeUndefined();
      // Same creation time: in creation order.
      expect(await store.rooms()).toEqual([
        r1,
        { ...room('r2', 2), lastSeq: 0, lastActivity: 2, ownerAwaySince: null },
        { ...room('r3', 2), lastSeq: 0, lastActivity: 2, ownerAwaySince: null },
      ]);
    });

    test('roomsByActivity: pages of rooms, most recent activity first (ties: greater id first), continuing after a position', async () => {
      expect(await store.roomsByActivity(undefined, 10)).toEqual([]);
      // Created at 1..5 (r_e and r_d at the same time), then r_a becomes the most active.
      for (const [id, at] of [['r_a', 1], ['r_b', 2], ['r_c', 3], ['r_d', 4], ['r_e', 4], ['r_B', 5]] as const) await store.createRoom(room(id, at));
      await store.append([op(msg('r_a', alice, 'hi', 9))]);
      const ids = async (after: { lastActivity: number; id: string } | undefined, limit: number) => (await store.roomsByActivity(after, limit)).map((r) => r.id);
      expect(await ids(undefined, 10)).toEqual(['r_a', 'r_B', 'r_e', 'r_d', 'r_c', 'r_b']);
      expect(await ids(undefined, 2)).toEqual(['r_a', 'r_B']);
      expect(await ids({ lastActivity: 5, id: 'r_B' }, 2)).toEqual(['r_e', 'r_d']);
      expect(await ids({ lastActivity: 4, id: 'r_d' }, 2)).toEqual(['r_c', 'r_b']);
      expect(await ids({ lastActivity: 2, id: 'r_b' }, 2)).toEqual([]);
      // A position between rooms (the room it named is gone) continues all the same.
      expect(await ids({ lastActivity: 4, id: 'r_dd' }, 10)).toEqual(['r_d', 'r_c', 'r_b']);
      const [first] = await store.roomsByActivity(undefined, 1);
      expect(first).toEqual(await store.room('r_a'));
    });

    test('creating a room that exists is a plain error', async () => {
      await store.createRoom(room('r'));
      const err = await store.createRoom(room('r')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as { code?: unknown }).code).toBeUndefined();
    });

    test('append allocates seqs 1..N per room, independently across rooms, in one batch and across batches', async () => {
      await store.createRoom(room('r1'));
      await store.createRoom(room('r2'));
      const first = await store.append([op(msg('r1', alice, 'a', 10)), op(msg('r2', bob, 'b', 11)), op(msg('r1', bob, 'c', 12))]);
      expect(seqs(first)).toEqual([1, 1, 2]);
      expect(first.every((r) => 'duplicate' in r && !r.duplicate)).toBe(true);
      const second = await store.append([op(msg('r2', alice, 'd', 13)), op(sys('r1', 'joined', carol, 14))]);
      expect(seqs(second)).toEqual([2, 3]);
      expect((await store.entriesAfter('r1', 0, 10)).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect((await store.entriesAfter('r2', 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
      expect(await store.room('r1')).toMatchObject({ lastSeq: 3, lastActivity: 14 });
      expect(await store.room('r2')).toMatchObject({ lastSeq: 2, lastActivity: 13 });
      expect(await store.append([])).toEqual([]);
    });

    test('returned entries are exactly what a read gives back, field order included', async () => {
      await store.createRoom(room('r'));
      const results = await store.append([
        op(sys('r', 'joined', alice, 10)),
        op({ room: 'r', user: alice, text: 'hi', ts: 11, nonce: 'n1' }),
        op({ room: 'r', user: bob, gif: '/gif/abc.gif', ts: 12 }),
        op({ room: 'r', user: bob, text: 'both', gif: '/gif/def.gif', ts: 13, nonce: 'n2' }),
        op(sys('r', 'left', bob, 14)),
        op({ room: 'r', user: alice, gif: '/gif/sized.gif', width: 320, height: 180, ts: 15 }),
        // A size without a GIF is not an entry's: dropped.
        op({ room: 'r', user: alice, text: 'no gif', width: 1, height: 1, ts: 16 } as NewEntry),
      ]);
      const expected: Entry[] = [
        { room: 'r', seq: 1, kind: 'joined', user: alice, ts: 10 },
        { room: 'r', seq: 2, user: alice, text: 'hi', ts: 11, nonce: 'n1' },
        { room: 'r', seq: 3, user: bob, gif: '/gif/abc.gif', ts: 12 },
        { room: 'r', seq: 4, user: bob, text: 'both', gif: '/gif/def.gif', ts: 13, nonce: 'n2' },
        { room: 'r', seq: 5, kind: 'left', user: bob, ts: 14 },
        { room: 'r', seq: 6, user: alice, gif: '/gif/sized.gif', width: 320, height: 180, ts: 15 },
        { room: 'r', seq: 7, user: alice, text: 'no gif', ts: 16 },
      ];
      const returned = results.map(entryOf);
      expect(returned).toStrictEqual(expected);
      const read = await store.entriesAfter('r', 0, 10);
      expect(read).toStrictEqual(expected);
      expect(JSON.stringify(returned)).toBe(JSON.stringify(read));
      // A user object carrying more than UserInfo is stored and returned as UserInfo.
      const [extra] = await store.append([op({ room: 'r', user: { ...carol, socket: 7 } as UserInfo, text: 'x', ts: 17 })]);
      expect(entryOf(extra).user).toStrictEqual(carol);
    });

    test('entries: after, before, latest, with exact shapes', async () => {
      await store.createRoom(room('r'));
      const entries: Entry[] = [
        { room: 'r', seq: 1, kind: 'joined', user: alice, ts: 10 },
        { room: 'r', seq: 2, user: alice, text: 'hi', ts: 11, nonce: 'n1' },
        { room: 'r', seq: 3, user: bob, gif: '/gif/abc.gif', ts: 12 },
        { room: 'r', seq: 4, user: bob, text: 'plain', ts: 13 },
        { room: 'r', seq: 5, kind: 'left', user: bob, ts: 14 },
      ];
      await store.append(entries.map(({ seq: _seq, ...entry }) => op(entry as NewEntry)));
      expect(await store.entriesAfter('r', 0, 100)).toStrictEqual(entries);
      expect(await store.entriesAfter('r', 2, 2)).toStrictEqual(entries.slice(2, 4));
      expect(await store.entriesAfter('r', 5, 2)).toStrictEqual([]);
      expect(await store.entriesBefore('r', undefined, 2)).toStrictEqual(entries.slice(3));
      expect(await store.entriesBefore('r', 4, 2)).toStrictEqual(entries.slice(1, 3));
      expect(await store.entriesBefore('r', 1, 10)).toStrictEqual([]);
      expect(await store.entriesAfter('nope', 0, 10)).toStrictEqual([]);
    });

    test('a nonce already stored for (room, user) returns the stored original and uses no seq', async () => {
      await store.createRoom(room('r'));
      await store.createRoom(room('q'));
      const [original] = await store.append([op(msg('r', alice, 'first', 10, 'n1'))]);
      expect(original).toEqual({ entry: { room: 'r', seq: 1, user: alice, text: 'first', ts: 10, nonce: 'n1' }, duplicate: false });
      const again = await store.append([
        op(msg('r', alice, 'resent', 20, 'n1')),
        op(msg('r', bob, 'same nonce, other user', 21, 'n1')),
        op(msg('q', alice, 'same nonce, other room', 22, 'n1')),
        op(msg('r', alice, 'no nonce', 23)),
      ]);
      expect(again[0]).toEqual({ entry: entryOf(original), duplicate: true });
      expect(again.slice(1).map((r) => ('duplicate' in r ? [r.entry.room, r.entry.seq, r.duplicate] : r))).toEqual([
        ['r', 2, false],
        ['q', 1, false],
        ['r', 3, false],
      ]);
      expect((await store.entriesAfter('r', 0, 10)).map((e) => ('kind' in e ? e.kind : e.text))).toEqual(['first', 'same nonce, other user', 'no nonce']);
      expect(await store.room('r')).toMatchObject({ lastSeq: 3, lastActivity: 23 });
    });

    test('the same nonce twice in one batch: the second is a duplicate of the first', async () => {
      await store.createRoom(room('r'));
      const results = await store.append([op(msg('r', alice, 'one', 10, 'n')), op(msg('r', alice, 'two', 11, 'n')), op(msg('r', alice, 'three', 12))]);
      expect(results).toEqual([
        { entry: { room: 'r', seq: 1, user: alice, text: 'one', ts: 10, nonce: 'n' }, duplicate: false },
        { entry: { room: 'r', seq: 1, user: alice, text: 'one', ts: 10, nonce: 'n' }, duplicate: true },
        { entry: { room: 'r', seq: 2, user: alice, text: 'three', ts: 12 }, duplicate: false },
      ]);
    });

    test('a missing room is refused as not_found without affecting the rest of the batch', async () => {
      await store.createRoom(room('r'));
      const results = await store.append([
        op(msg('r', alice, 'a', 10)),
        op(msg('gone', alice, 'b', 11)),
        op(msg('gone', alice, 'c', 12, 'n')),
        op(sys('gone', 'joined', alice, 13)),
        op(sys('gone', 'owner', bob, 13), { ownerWas: alice.id }),
        op(sys('gone', 'kicked', bob, 13), { banUntil: 1000 }),
        op(msg('r', alice, 'd', 14)),
      ]);
      expect(seqs(results)).toEqual([1, 'not_found', 'not_found', 'not_found', 'not_found', 'not_found', 2]);
      expect(results[1]).toEqual({ refused: 'not_found' });
      expect(await store.room('gone')).toBeUndefined();
      expect(await store.bannedUntil('gone', bob.id, 0)).toBeUndefined();
      expect((await store.entriesAfter('r', 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
    });

    test('ownerWas: the owner changes only from the expected one; a conflict writes nothing', async () => {
      await store.createRoom(room('r', 1, alice));
      const [handed] = await store.append([op(sys('r', 'owner', bob, 10), { ownerWas: alice.id })]);
      expect(handed).toEqual({ entry: { room: 'r', seq: 1, kind: 'owner', user: bob, ts: 10 }, duplicate: false });
      expect(await store.room('r')).toMatchObject({ owner: bob, lastSeq: 1, lastActivity: 10 });
      // Two servers handing over from alice at once: the second finds bob, not alice.
      const results = await store.append([op(sys('r', 'owner', carol, 20), { ownerWas: alice.id }), op(msg('r', bob, 'still here', 21))]);
      expect(results[0]).toEqual({ refused: 'conflict' });
      expect(entryOf(results[1]).seq).toBe(2);
      expect(await store.room('r')).toMatchObject({ owner: bob, lastSeq: 2, lastActivity: 21 });
      expect((await store.entriesAfter('r', 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
      // In one batch: the first hand-over wins, the second sees its result.
      const race = await store.append([
        op(sys('r', 'owner', carol, 30), { ownerWas: bob.id }),
        op(sys('r', 'owner', alice, 31), { ownerWas: bob.id }),
        op(sys('r', 'owner', alice, 32), { ownerWas: carol.id }),
      ]);
      expect(seqs(race)).toEqual([3, 'conflict', 4]);
      expect((await store.room('r'))?.owner).toEqual(alice);
      // Without ownerWas, an owner entry hands the room over whoever owns it.
      const [forced] = await store.append([op(sys('r', 'owner', bob, 40))]);
      expect(seqs([forced])).toEqual([5]);
      expect((await store.room('r'))?.owner).toEqual(bob);
    });

    test('banUntil: a kick keeps the user out until then, per room and user; a later kick moves it', async () => {
      await store.createRoom(room('r'));
      await store.createRoom(room('q'));
      const [kicked] = await store.append([op(sys('r', 'kicked', bob, 10), { banUntil: 1000 })]);
      expect(kicked).toEqual({ entry: { room: 'r', seq: 1, kind: 'kicked', user: bob, ts: 10 }, duplicate: false });
      expect(await store.bannedUntil('r', bob.id, 999)).toBe(1000);
      expect(await store.bannedUntil('r', carol.id, 999)).toBeUndefined();
      expect(await store.bannedUntil('q', bob.id, 999)).toBeUndefined();
      await store.append([op(sys('r', 'kicked', bob, 20), { banUntil: 2000 })]);
      expect(await store.bannedUntil('r', bob.id, 1500)).toBe(2000);
      expect(await store.bannedUntil('r', bob.id, 2000)).toBeUndefined();
      expect(await store.bannedUntil('r', bob.id, 3000)).toBeUndefined();
      // A kick without a ban is only an entry.
      await store.append([op(sys('r', 'kicked', carol, 30))]);
      expect(await store.bannedUntil('r', carol.id, 0)).toBeUndefined();
    });

    test('banAddresses: an address is kept out of the room whoever comes from it; the later end wins; pruned and deleted with the room', async () => {
      await store.createRoom(room('r'));
      await store.createRoom(room('q'));
      await store.banAddresses('r', ['10.0.0.1', '::1'], 1000);
      await store.banAddresses('r', [], 9999); // nothing to ban: a no-op
      expect(await store.bannedUntil('r', carol.id, 999, '10.0.0.1')).toBe(1000);
      expect(await store.bannedUntil('r', carol.id, 999, '::1')).toBe(1000);
      expect(await store.bannedUntil('r', carol.id, 999, '10.0.0.2')).toBeUndefined();
      expect(await store.bannedUntil('r', carol.id, 999)).toBeUndefined();
      expect(await store.bannedUntil('q', carol.id, 999, '10.0.0.1')).toBeUndefined();
      // An earlier end never shortens a running ban; a later one extends it.
      await store.banAddresses('r', ['10.0.0.1'], 500);
      expect(await store.bannedUntil('r', carol.id, 999, '10.0.0.1')).toBe(1000);
      await store.banAddresses('r', ['10.0.0.1'], 3000);
      expect(await store.bannedUntil('r', carol.id, 999, '10.0.0.1')).toBe(3000);
      // A user ban and an address ban: the later end.
      await store.append([op(sys('r', 'kicked', bob, 10), { banUntil: 2000 })]);
      expect(await store.bannedUntil('r', bob.id, 999, '10.0.0.1')).toBe(3000);
      expect(await store.bannedUntil('r', bob.id, 999, '10.0.0.9')).toBe(2000);
      expect(await store.bannedUntil('r', bob.id, 2500, '10.0.0.1')).toBe(3000);
      expect(await store.bannedUntil('r', bob.id, 2500, '10.0.0.9')).toBeUndefined();
      expect(await store.pruneBans(1000)).toBe(1); // '::1'
      await store.banAddresses('q', ['10.0.0.1'], 5000);
      await store.deleteRoom('q');
      await store.createRoom(room('q', 2));
      expect(await store.bannedUntil('q', carol.id, 0, '10.0.0.1')).toBeUndefined();
    });

    test('ownedRoomCount counts the rooms a user owns now', async () => {
      expect(await store.ownedRoomCount(alice.id)).toBe(0);
      await store.createRoom(room('r'));
      await store.createRoom(room('q'));
      await store.createRoom(room('p', 1, bob));
      expect(await store.ownedRoomCount(alice.id)).toBe(2);
      expect(await store.ownedRoomCount(bob.id)).toBe(1);
      await store.append([op(sys('q', 'owner', bob, 5))]);
      expect(await store.ownedRoomCount(alice.id)).toBe(1);
      await store.deleteRoom('r');
      expect(await store.ownedRoomCount(alice.id)).toBe(0);
      expect(await store.ownedRoomCount(bob.id)).toBe(2);
    });

    test('pruneBans removes the bans that ended, and only those; roomCount counts rooms', async () => {
      await store.createRoom(room('r'));
      await store.createRoom(room('q'));
      expect(await store.roomCount()).toBe(2);
      await store.append([op(sys('r', 'kicked', bob, 10), { banUntil: 1000 }), op(sys('q', 'kicked', carol, 10), { banUntil: 5000 })]);
      expect(await store.pruneBans(999)).toBe(0);
      expect(await store.pruneBans(1000)).toBe(1);
      expect(await store.bannedUntil('q', carol.id, 4000)).toBe(5000);
      expect(await store.pruneBans(1000)).toBe(0);
      await store.deleteRoom('q');
      expect(await store.roomCount()).toBe(1);
    });

    test('deleteRoom removes the room, its log and its bans, and returns the GIFs its entries referenced', async () => {
      await store.createRoom(room('r'));
      await store.createRoom(room('q'));
      await store.append([
        op({ room: 'r', user: alice, gif: '/gif/1.gif', ts: 10 }),
        op(msg('r', alice, 'text', 11, 'n')),
        op({ room: 'r', user: bob, text: 'caption', gif: '/gif/2.gif', ts: 12 }),
        op(sys('r', 'kicked', bob, 13), { banUntil: 5000 }),
        op({ room: 'q', user: alice, gif: '/gif/q.gif', ts: 14 }),
      ]);
      const deleted = await store.deleteRoom('r');
      expect(deleted.deleted).toBe(true);
      expect([...deleted.gifs].sort()).toEqual(['/gif/1.gif', '/gif/2.gif']);
      expect(await store.room('r')).toBeUndefined();
      expect((await store.rooms()).map((r) => r.id)).toEqual(['q']);
      expect(await store.entriesAfter('r', 0, 10)).toEqual([]);
      expect(await store.deleteRoom('r')).toEqual({ deleted: false, gifs: [] });
      // A room made again with the same id starts afresh: no log, no bans, no nonces.
      await store.createRoom(room('r', 2));
      expect(await store.bannedUntil('r', bob.id, 0)).toBeUndefined();
      const [again] = await store.append([op(msg('r', alice, 'text', 20, 'n'))]);
      expect(again).toEqual({ entry: { room: 'r', seq: 1, user: alice, text: 'text', ts: 20, nonce: 'n' }, duplicate: false });
      // The other room is untouched.
      expect((await store.entriesAfter('q', 0, 10)).length).toBe(1);
    });

    test('deleteRoom with idleBefore deletes only a room idle since before then', async () => {
      await store.createRoom(room('r', 100));
      expect(await store.deleteRoom('r', 100)).toEqual({ deleted: false, gifs: [] });
      await store.append([op({ room: 'r', user: alice, gif: '/gif/1.gif', ts: 200 })]);
      // Came alive again after the expiry sweep looked at it: kept.
      expect(await store.deleteRoom('r', 150)).toEqual({ deleted: false, gifs: [] });
      expect(await store.room('r')).toBeDefined();
      expect(await store.deleteRoom('r', 201)).toEqual({ deleted: true, gifs: ['/gif/1.gif'] });
      expect(await store.room('r')).toBeUndefined();
      expect(await store.deleteRoom('nope', 1000)).toEqual({ deleted: false, gifs: [] });
    });

    test('idleRooms lists the rooms whose last activity is before the given time', async () => {
      await store.createRoom(room('old', 10));
      await store.createRoom(room('busy', 10));
      await store.createRoom(room('new', 50));
      await store.append([op(msg('busy', alice, 'x', 60))]);
      expect((await store.idleRooms(50)).sort()).toEqual(['old']);
      expect((await store.idleRooms(51)).sort()).toEqual(['new', 'old']);
      expect((await store.idleRooms(61)).sort()).toEqual(['busy', 'new', 'old']);
      expect(await store.idleRooms(10)).toEqual([]);
    });

    test('renameOwner stores the new name and color on the rooms the user owns', async () => {
      await store.createRoom(room('a1', 1, alice));
      await store.createRoom(room('b1', 2, bob));
      await store.createRoom(room('a2', 3, alice));
      const renamed = { ...alice, name: 'Alicia', color: '#000000' };
      expect((await store.renameOwner(renamed)).sort()).toEqual(['a1', 'a2']);
      expect((await store.rooms()).map((r) => [r.id, r.owner])).toEqual([
        ['a1', renamed],
        ['b1', bob],
        ['a2', renamed],
      ]);
      expect(await store.renameOwner(carol)).toEqual([]);
    });

    test('setOwnerAway sets and clears since when the owner is away', async () => {
      await store.createRoom(room('r'));
      await store.setOwnerAway('r', 1234);
      expect((await store.room('r'))?.ownerAwaySince).toBe(1234);
      expect((await store.rooms())[0].ownerAwaySince).toBe(1234);
      await store.setOwnerAway('r', null);
      expect((await store.room('r'))?.ownerAwaySince).toBeNull();
      await store.setOwnerAway('nope', 5); // no room: nothing to do
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

    test('committed data survives closing and reopening: the counter continues, nonces still match', async () => {
      await store.createRoom(room('r'));
      await store.append([op(msg('r', alice, 'kept', 5, 'n1')), op(sys('r', 'kicked', bob, 6), { banUntil: 1000 })]);
      await store.setOwnerAway('r', 7);
      await store.close();
      store = await reopen();
      expect(await store.entriesAfter('r', 0, 10)).toEqual([
        { room: 'r', seq: 1, user: alice, text: 'kept', ts: 5, nonce: 'n1' },
        { room: 'r', seq: 2, kind: 'kicked', user: bob, ts: 6 },
      ]);
      expect(await store.room('r')).toEqual({ ...room('r'), lastSeq: 2, lastActivity: 6, ownerAwaySince: 7 });
      expect(await store.bannedUntil('r', bob.id, 500)).toBe(1000);
      const results = await store.append([op(msg('r', alice, 'resent', 8, 'n1')), op(msg('r', alice, 'next', 9))]);
      expect(results[0]).toEqual({ entry: { room: 'r', seq: 1, user: alice, text: 'kept', ts: 5, nonce: 'n1' }, duplicate: true });
      expect(entryOf(results[1]).seq).toBe(3);
      await store.close(); // closing twice is safe
      store = await reopen();
    });

    test('two handles on the same storage share one counter and one nonce set', async () => {
      if (second === undefined) return;
      const other = await second();
      others.push(other);
      await store.createRoom(room('r'));
      expect(await other.room('r')).toMatchObject({ id: 'r', lastSeq: 0 });
      // Interleaved, with calls of both in flight at once.
      const pending: Promise<AppendResult[]>[] = [];
      for (let i = 0; i < 50; i++) {
        const via = i % 2 === 0 ? store : other;
        pending.push(via.append([op(msg('r', alice, `m${i}`, i)), op(msg('r', bob, `n${i}`, i, `nonce${i}`))]));
      }
      const all = (await Promise.all(pending)).flat();
      const allocated = all.map((r) => entryOf(r).seq).sort((a, b) => a - b);
      expect(allocated).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect((await other.entriesAfter('r', 0, 1000)).map((e) => e.seq)).toEqual(allocated);
      expect(await store.room('r')).toMatchObject({ lastSeq: 100 });
      // A nonce stored through one handle is a duplicate through the other.
      const [dup] = await other.append([op(msg('r', bob, 'again', 100, 'nonce0'))]);
      expect(dup).toMatchObject({ duplicate: true, entry: { text: 'n0' } });
      const [next] = await store.append([op(msg('r', bob, 'again', 100, 'nonce0')), op(msg('r', carol, 'new', 101))]).then((r) => r.slice(1));
      expect(entryOf(next).seq).toBe(101);
    });
  });
}
