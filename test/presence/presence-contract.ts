import { UserInfo } from '../../src/protocol';
import { Departure, Presence, PresenceOptions, SocketRef } from '../../src/presence/presence';

/**
 * The behaviour every Presence implementation must have, checked through the interface
 * only. Times: `since` and the start of a grace come from the implementation's clock
 * (Date.now()), so the `now` passed to beat/sweep is Date.now() plus an offset; nodes are
 * kept alive by beating them at the `now` of the sweep, as a live server would.
 */
export function presenceContract(name: string, open: (options: PresenceOptions) => Promise<Presence>): void {
  describe(`${name} presence contract`, () => {
    const graceMs = 1_000;
    const ttlMs = 5_000;
    let p: Presence;
    beforeEach(async () => {
      p = await open({ graceMs, ttlMs });
    });
    afterEach(async () => {
      await p.close();
    });

    const user = (id: string, name = id.toUpperCase(), color = '#336699'): UserInfo => ({ id, name, color });
    const ref = (node: string, socket: string): SocketRef => ({ node, socket });
    const tick = () => new Promise((r) => setTimeout(r, 2));
    const alive = async (now: number, ...nodes: string[]) => {
      for (const node of nodes) await p.beat(node, now);
    };
    const ids = async (room: string) => (await p.members(room)).map((m) => m.user.id);
    const byRoom = (ds: Departure[]) => ds.map((d) => `${d.room}:${d.user.id}`).sort();

    describe('online users', () => {
      test('a user is online while any socket, on any node, is connected', async () => {
        const alice = user('u_a', 'Alice');
        expect(await p.connect(ref('n1', 's1'), alice)).toBe(true);
        // The same socket id on another node is another socket.
        expect(await p.connect(ref('n2', 's1'), alice)).toBe(false);
        expect(await p.userCount()).toBe(1);
        expect(await p.user('u_a')).toEqual(alice);
        expect(await p.users()).toEqual([alice]);

        expect(await p.disconnect(ref('n1', 's1'))).toBe(false);
        expect(await p.user('u_a')).toEqual(alice);
        expect(await p.disconnect(ref('n2', 's1'))).toBe(true);
        expect(await p.user('u_a')).toBeUndefined();
        expect(await p.userCount()).toBe(0);
        expect(await p.users()).toEqual([]);
        // Unknown sockets: nothing to do.
        expect(await p.disconnect(ref('n2', 's1'))).toBe(false);
        expect(await p.disconnect(ref('nx', 'sx'))).toBe(false);
      });

      test('users() lists each online user once, in order of arrival', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.connect(ref('n1', 'b1'), user('u_b'));
        await p.connect(ref('n2', 'a2'), user('u_a'));
        await p.connect(ref('n2', 'c1'), user('u_c'));
        expect((await p.users()).map((u) => u.id)).toEqual(['u_a', 'u_b', 'u_c']);
        await p.disconnect(ref('n1', 'a1'));
        await p.disconnect(ref('n2', 'a2'));
        expect(await p.connect(ref('n1', 'a3'), user('u_a'))).toBe(true);
        expect((await p.users()).map((u) => u.id)).toEqual(['u_b', 'u_c', 'u_a']);
        expect(await p.userCount()).toBe(3);
      });
    });

    describe('names', () => {
      test('are unique among online users, case-insensitively; rename releases the old name', async () => {
        await p.connect(ref('n1', 'a'), user('u_a', 'Alice'));
        await p.connect(ref('n1', 'b'), user('u_b', 'Bob'));
        expect(await p.rename(user('u_b', 'ALICE'))).toBe(false);
        expect((await p.user('u_b'))?.name).toBe('Bob');

        expect(await p.rename(user('u_b', 'Robert', '#ff0000'))).toBe(true);
        expect(await p.user('u_b')).toEqual(user('u_b', 'Robert', '#ff0000'));
        // Bob's old name is free again; a user may change the case of their own name.
        expect(await p.rename(user('u_a', 'bob'))).toBe(true);
        expect(await p.rename(user('u_a', 'BOB'))).toBe(true);
        expect((await p.user('u_a'))?.name).toBe('BOB');
        expect(await p.rename(user('u_b', 'alice'))).toBe(true);
      });

      test('look-alikes are the same name (Unicode TS #39 skeleton): Cyrillic А, capital I for l, 0 for O; released together', async () => {
        await p.connect(ref('n1', 'a'), user('u_a', 'Alice'));
        await p.connect(ref('n1', 'b'), user('u_b', 'Bob'));
        await p.connect(ref('n1', 'c'), user('u_c', 'Carol'));
        for (const clone of ['\u0410lice', 'AIice', 'ALICE', 'aIice', '\u0430lice', 'Al\u0456ce']) {
          expect({ clone, renamed: await p.rename(user('u_b', clone)) }).toEqual({ clone, renamed: false });
        }
        expect(await p.rename(user('u_c', 'B0B'))).toBe(false);
        expect(await p.rename(user('u_c', 'Alicia'))).toBe(true);
        // Alice's own look-alike rename is hers to make; her old keys are released with it.
        expect(await p.rename(user('u_a', 'AIice'))).toBe(true);
        expect(await p.rename(user('u_a', 'Zed'))).toBe(true);
        expect(await p.rename(user('u_b', '\u0410lice'))).toBe(true);
      });

      test('a user going offline releases their name', async () => {
        await p.connect(ref('n1', 'a'), user('u_a', 'Alice'));
        await p.connect(ref('n1', 'b'), user('u_b', 'Bob'));
        expect(await p.rename(user('u_b', 'alice'))).toBe(false);
        await p.disconnect(ref('n1', 'a'));
        expect(await p.rename(user('u_b', 'alice'))).toBe(true);
      });

      test('a user whose name is held comes online with it; the claim stays with the first holder', async () => {
        await p.connect(ref('n1', 'b'), user('u_b', 'Bob'));
        expect(await p.connect(ref('n1', 'c'), user('u_c', 'BOB'))).toBe(true);
        expect((await p.user('u_c'))?.name).toBe('BOB');
        expect(await p.rename(user('u_d', 'bob'))).toBe(false);
        await p.connect(ref('n1', 'd'), user('u_d', 'Dan'));
        expect(await p.rename(user('u_d', 'bob'))).toBe(false);
        // The second holder going offline does not free the name.
        await p.disconnect(ref('n1', 'c'));
        expect(await p.rename(user('u_d', 'bob'))).toBe(false);
      });

      test('renaming a user who is not online: true only when the name is free, and nobody comes online', async () => {
        await p.connect(ref('n1', 'a'), user('u_a', 'Alice'));
        expect(await p.rename(user('u_z', 'alice'))).toBe(false);
        expect(await p.rename(user('u_z', 'Zed'))).toBe(true);
        expect(await p.user('u_z')).toBeUndefined();
        expect(await p.userCount()).toBe(1);
      });

      test('rename is atomic: of two users asking for one name at once, one gets it', async () => {
        await p.connect(ref('n1', 'a'), user('u_a'));
        await p.connect(ref('n2', 'b'), user('u_b'));
        const got = await Promise.all([p.rename(user('u_a', 'Zed')), p.rename(user('u_b', 'zed'))]);
        expect(got.filter(Boolean)).toHaveLength(1);
        const names = (await p.users()).map((u) => u.name.toLowerCase());
        expect(names.filter((n) => n === 'zed')).toHaveLength(1);
      });

      test('a rename shows in every room the user is in, grace included', async () => {
        const a1 = ref('n1', 'a1');
        await p.connect(a1, user('u_a', 'Alice'));
        await p.connect(ref('n1', 'b1'), user('u_b', 'Bob'));
        await p.join('r1', a1, user('u_a', 'Alice'), 10);
        await p.join('r2', a1, user('u_a', 'Alice'), 10);
        await p.join('r1', ref('n1', 'b1'), user('u_b', 'Bob'), 10);
        await p.leave('r2', a1, false); // in grace in r2
        const before = await p.members('r1');

        expect(await p.rename(user('u_a', 'Alicia', '#00ff00'))).toBe(true);
        const after = await p.members('r1');
        expect(after.map((m) => m.user)).toEqual([user('u_a', 'Alicia', '#00ff00'), user('u_b', 'Bob')]);
        expect(after.map((m) => m.since)).toEqual(before.map((m) => m.since));
        expect((await p.members('r2')).map((m) => m.user.name)).toEqual(['Alicia']);
        expect((await p.users()).find((u) => u.id === 'u_a')?.name).toBe('Alicia');
      });
    });

    describe('join', () => {
      test('lets members in up to max; a full room changes nothing', async () => {
        for (const id of ['a', 'b', 'c']) await p.connect(ref('n1', id), user(`u_${id}`));
        expect(await p.join('r', ref('n1', 'a'), user('u_a'), 2)).toBe('joined');
        expect(await p.join('r', ref('n1', 'b'), user('u_b'), 2)).toBe('joined');
        expect(await p.join('r', ref('n1', 'c'), user('u_c'), 2)).toBe('full');
        expect(await ids('r')).toEqual(['u_a', 'u_b']);
        expect(await p.isMember('r', 'u_c')).toBe(false);
        expect(await p.roomsOf('u_c')).toEqual([]);
        expect(await p.counts(['r'])).toEqual([2]);
        // c's socket is not in the room: leaving it does nothing.
        expect(await p.leave('r', ref('n1', 'c'), true)).toBe(false);
      });

      test('a present user joining again, with the same or another socket, is present even when full', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.connect(ref('n2', 'a2'), user('u_a'));
        expect(await p.join('r', ref('n1', 'a1'), user('u_a'), 1)).toBe('joined');
        expect(await p.join('r', ref('n1', 'a1'), user('u_a'), 1)).toBe('present');
        expect(await p.join('r', ref('n2', 'a2'), user('u_a'), 1)).toBe('present');
        expect(await p.counts(['r'])).toEqual([1]);
        // Two sockets in: the first leaving (even explicitly) leaves the user present.
        expect(await p.leave('r', ref('n1', 'a1'), true)).toBe(false);
        expect(await p.isMember('r', 'u_a')).toBe(true);
      });

      test('is atomic: joins made at once never let more than max in', async () => {
        const names = ['a', 'b', 'c', 'd', 'e'];
        for (const id of names) await p.connect(ref(id < 'c' ? 'n1' : 'n2', id), user(`u_${id}`));
        const outcomes = await Promise.all(
          names.map((id) => p.join('r', ref(id < 'c' ? 'n1' : 'n2', id), user(`u_${id}`), 2)),
        );
        expect(outcomes.filter((o) => o === 'joined')).toHaveLength(2);
        expect(outcomes.filter((o) => o === 'full')).toHaveLength(3);
        expect(await p.counts(['r'])).toEqual([2]);
      });

      test('members come longest present first, with the time they arrived', async () => {
        const t0 = Date.now();
        for (const id of ['c', 'a', 'b']) {
          await p.connect(ref('n1', id), user(`u_${id}`));
          await p.join('r', ref('n1', id), user(`u_${id}`), 10);
          await tick();
        }
        const members = await p.members('r');
        expect(members.map((m) => m.user.id)).toEqual(['u_c', 'u_a', 'u_b']);
        expect(members[0].since).toBeGreaterThanOrEqual(t0);
        expect(members[0].since).toBeLessThan(members[1].since);
        expect(members[1].since).toBeLessThan(members[2].since);
        expect(members[2].since).toBeLessThanOrEqual(Date.now());
        expect(await p.members('nowhere')).toEqual([]);
      });
    });

    describe('grace', () => {
      test('back within the grace, a user is present, keeps their place and since, and nothing departs', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.join('r', ref('n1', 'a1'), user('u_a'), 2);
        await tick();
        await p.connect(ref('n1', 'b1'), user('u_b'));
        await p.join('r', ref('n1', 'b1'), user('u_b'), 2);
        const before = await p.members('r');

        expect(await p.disconnect(ref('n1', 'a1'))).toBe(true); // a reload
        expect(await p.user('u_a')).toBeUndefined();
        expect(await p.isMember('r', 'u_a')).toBe(true);
        expect(await p.members('r')).toEqual(before);
        expect(await p.roomsOf('u_a')).toEqual(['r']);
        // Still counted: the room is full for a newcomer.
        await p.connect(ref('n1', 'c1'), user('u_c'));
        expect(await p.join('r', ref('n1', 'c1'), user('u_c'), 2)).toBe('full');

        expect(await p.connect(ref('n1', 'a2'), user('u_a'))).toBe(true);
        expect(await p.join('r', ref('n1', 'a2'), user('u_a'), 2)).toBe('present');
        expect(await p.members('r')).toEqual(before);

        const later = Date.now() + 10 * graceMs;
        await alive(later, 'n1');
        expect(await p.sweep(later)).toEqual([]);
        expect(await ids('r')).toEqual(['u_a', 'u_b']);
      });

      test('when the grace runs out, the member departs once, to one caller', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a', 'Alice'));
        await p.connect(ref('n1', 'b1'), user('u_b'));
        await p.join('r', ref('n1', 'a1'), user('u_a', 'Alice'), 10);
        await p.join('r', ref('n1', 'b1'), user('u_b'), 10);
        const start = Date.now();
        expect(await p.leave('r', ref('n1', 'a1'), false)).toBe(false);
        const end = Date.now();
        // Not in the room any more as a socket, but present as a member.
        expect(await p.isMember('r', 'u_a')).toBe(true);
        expect(await p.user('u_a')).toBeDefined();

        await alive(end + 10 * graceMs, 'n1');
        expect(await p.sweep(start + graceMs - 1)).toEqual([]);
        expect(await p.isMember('r', 'u_a')).toBe(true);

        const got = await Promise.all([p.sweep(end + graceMs), p.sweep(end + graceMs)]);
        expect(got.flat()).toEqual([{ room: 'r', user: user('u_a', 'Alice') }]);
        expect(await p.sweep(end + 5 * graceMs)).toEqual([]);
        expect(await p.isMember('r', 'u_a')).toBe(false);
        expect(await ids('r')).toEqual(['u_b']);
        expect(await p.roomsOf('u_a')).toEqual([]);
        // Leaving a room is not going offline.
        expect(await p.user('u_a')).toBeDefined();
      });

      test('a departure carries the name the user had last', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a', 'Alice'));
        await p.join('r', ref('n1', 'a1'), user('u_a', 'Alice'), 10);
        await p.leave('r', ref('n1', 'a1'), false);
        await p.rename(user('u_a', 'Alicia'));
        const later = Date.now() + graceMs;
        await alive(later, 'n1');
        expect(await p.sweep(later)).toEqual([{ room: 'r', user: user('u_a', 'Alicia') }]);
      });

      test('a user back in the room after the grace arrives anew', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.join('r', ref('n1', 'a1'), user('u_a'), 10);
        const first = (await p.members('r'))[0].since;
        await p.disconnect(ref('n1', 'a1'));
        const later = Date.now() + graceMs;
        await alive(later, 'n1');
        expect(byRoom(await p.sweep(later))).toEqual(['r:u_a']);
        await tick();
        await p.connect(ref('n1', 'a2'), user('u_a'));
        expect(await p.join('r', ref('n1', 'a2'), user('u_a'), 10)).toBe('joined');
        expect((await p.members('r'))[0].since).toBeGreaterThan(first);
      });
    });

    describe('leave and remove', () => {
      test('an explicit leave of the last socket resolves true at once, and nothing departs later', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.connect(ref('n2', 'a2'), user('u_a'));
        await p.join('r', ref('n1', 'a1'), user('u_a'), 10);
        await p.join('r', ref('n2', 'a2'), user('u_a'), 10);
        expect(await p.leave('r', ref('n1', 'a1'), true)).toBe(false);
        expect(await p.leave('r', ref('n2', 'a2'), true)).toBe(true);
        expect(await p.isMember('r', 'u_a')).toBe(false);
        expect(await p.members('r')).toEqual([]);
        expect(await p.activeRooms()).not.toContain('r');
        expect(await p.leave('r', ref('n2', 'a2'), true)).toBe(false);
        expect(await p.leave('r', ref('n9', 'nobody'), true)).toBe(false);
        const later = Date.now() + 10 * graceMs;
        await alive(later, 'n1', 'n2');
        expect(await p.sweep(later)).toEqual([]);
        expect(await p.userCount()).toBe(1);
      });

      test('an explicit leave ends a grace too', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.join('r', ref('n1', 'a1'), user('u_a'), 10);
        await p.leave('r', ref('n1', 'a1'), false);
        await p.join('r', ref('n1', 'a1'), user('u_a'), 10);
        expect(await p.leave('r', ref('n1', 'a1'), true)).toBe(true);
        const later = Date.now() + 10 * graceMs;
        await alive(later, 'n1');
        expect(await p.sweep(later)).toEqual([]);
      });

      test('remove (a kick) takes the member out at once with all their sockets there; they stay online', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.connect(ref('n2', 'a2'), user('u_a'));
        await p.connect(ref('n1', 'b1'), user('u_b'));
        await p.join('r', ref('n1', 'a1'), user('u_a'), 10);
        await p.join('r', ref('n2', 'a2'), user('u_a'), 10);
        await p.join('other', ref('n1', 'a1'), user('u_a'), 10);
        await p.join('r', ref('n1', 'b1'), user('u_b'), 10);

        expect(await p.remove('r', 'u_a')).toBe(true);
        expect(await p.isMember('r', 'u_a')).toBe(false);
        expect(await ids('r')).toEqual(['u_b']);
        expect(await p.roomsOf('u_a')).toEqual(['other']);
        expect(await p.user('u_a')).toBeDefined();
        expect(await p.remove('r', 'u_a')).toBe(false);
        expect(await p.remove('nowhere', 'u_a')).toBe(false);
        // Its sockets are out of the room: leaving or closing them leaves nothing behind there.
        expect(await p.leave('r', ref('n1', 'a1'), true)).toBe(false);
        await p.disconnect(ref('n2', 'a2'));
        await p.disconnect(ref('n1', 'a1'));
        expect(await p.isMember('other', 'u_a')).toBe(true); // in grace there
        const later = Date.now() + graceMs;
        await alive(later, 'n1', 'n2');
        expect(byRoom(await p.sweep(later))).toEqual(['other:u_a']);
      });

      test('remove ends a grace: no departure follows', async () => {
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.join('r', ref('n1', 'a1'), user('u_a'), 10);
        await p.disconnect(ref('n1', 'a1'));
        expect(await p.remove('r', 'u_a')).toBe(true);
        const later = Date.now() + 10 * graceMs;
        await alive(later, 'n1');
        expect(await p.sweep(later)).toEqual([]);
      });
    });

    describe('nodes', () => {
      test("a dead node's sockets vanish after the ttl, and its members depart a grace later", async () => {
        const t0 = Date.now();
        await alive(t0, 'n1', 'n2');
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.connect(ref('n2', 'b1'), user('u_b'));
        await p.connect(ref('n1', 'c1'), user('u_c'));
        await p.connect(ref('n2', 'c2'), user('u_c'));
        await p.join('r', ref('n1', 'a1'), user('u_a'), 10);
        await p.join('r', ref('n2', 'b1'), user('u_b'), 10);
        await p.join('r2', ref('n2', 'b1'), user('u_b'), 10);
        await p.join('r', ref('n2', 'c2'), user('u_c'), 10);
        await p.join('r', ref('n1', 'c1'), user('u_c'), 10);
        await alive(t0 + 100 * ttlMs, 'n1'); // n1 lives on; n2 stops beating at t0

        expect(await p.sweep(t0 + ttlMs - 1)).toEqual([]);
        expect(await p.userCount()).toBe(3);

        expect(await p.sweep(t0 + ttlMs)).toEqual([]);
        expect(await p.user('u_b')).toBeUndefined();
        expect((await p.users()).map((u) => u.id)).toEqual(['u_a', 'u_c']);
        expect(await p.isMember('r', 'u_b')).toBe(true); // in grace, from t0 + ttlMs
        expect(await p.sweep(t0 + ttlMs + graceMs - 1)).toEqual([]);

        expect(byRoom(await p.sweep(t0 + ttlMs + graceMs))).toEqual(['r2:u_b', 'r:u_b']);
        expect(await ids('r')).toEqual(['u_a', 'u_c']); // c still has a socket on n1
        expect(await p.activeRooms()).toEqual(['r']);
        // n2 is forgotten: its old sockets are unknown.
        expect(await p.disconnect(ref('n2', 'c2'))).toBe(false);
        expect(await p.user('u_c')).toBeDefined();
      });

      test("the grace of a dead node's members starts when the node died, not when it is swept", async () => {
        const t0 = Date.now();
        await alive(t0, 'n1', 'n2');
        await p.connect(ref('n2', 'b1'), user('u_b'));
        await p.join('r', ref('n2', 'b1'), user('u_b'), 10);
        await alive(t0 + 100 * ttlMs, 'n1');
        expect(byRoom(await p.sweep(t0 + ttlMs + graceMs))).toEqual(['r:u_b']);
        expect(await p.userCount()).toBe(0);
        expect(await p.activeRooms()).toEqual([]);
      });

      test('members depart when their own grace ends, whatever order their graces started in', async () => {
        const t0 = Date.now();
        await p.beat('n2', t0 - 10 * ttlMs); // n2 died long ago, before its sockets were swept
        await p.connect(ref('n2', 'b1'), user('u_b'));
        await p.join('r', ref('n2', 'b1'), user('u_b'), 10);
        await p.connect(ref('n1', 'a1'), user('u_a'));
        await p.join('r', ref('n1', 'a1'), user('u_a'), 10);
        await p.leave('r', ref('n1', 'a1'), false); // a's grace starts now, b's at t0 - 9 ttl
        await alive(t0 + 100 * ttlMs, 'n1');
        expect(byRoom(await p.sweep(t0 - 9 * ttlMs + graceMs))).toEqual(['r:u_b']);
        expect(await p.isMember('r', 'u_a')).toBe(true);
        expect(byRoom(await p.sweep(Date.now() + graceMs))).toEqual(['r:u_a']);
      });

      test('a node that beats keeps its sockets; one that never beat is alive for ttl from its first connect', async () => {
        const start = Date.now();
        await p.connect(ref('n3', 'a1'), user('u_a'));
        const end = Date.now();
        await p.join('r', ref('n3', 'a1'), user('u_a'), 10);
        expect(await p.sweep(start + ttlMs - 1)).toEqual([]);
        expect(await p.user('u_a')).toBeDefined();
        await p.sweep(end + ttlMs);
        expect(await p.user('u_a')).toBeUndefined();
        expect(await p.isMember('r', 'u_a')).toBe(true);

        const t1 = Date.now();
        await p.beat('n4', t1);
        await p.connect(ref('n4', 'b1'), user('u_b'));
        await p.beat('n4', t1 + 3 * ttlMs);
        await p.sweep(t1 + 3 * ttlMs - 1);
        expect(await p.user('u_b')).toBeDefined();
      });
    });

    test('counts, roomsOf and activeRooms follow the members', async () => {
      for (const id of ['a', 'b']) await p.connect(ref('n1', id), user(`u_${id}`));
      await p.join('r1', ref('n1', 'a'), user('u_a'), 10);
      await p.join('r2', ref('n1', 'a'), user('u_a'), 10);
      await p.join('r1', ref('n1', 'b'), user('u_b'), 10);
      expect(await p.counts(['r2', 'nowhere', 'r1'])).toEqual([1, 0, 2]);
      expect(await p.counts([])).toEqual([]);
      expect([...(await p.roomsOf('u_a'))].sort()).toEqual(['r1', 'r2']);
      expect(await p.roomsOf('u_b')).toEqual(['r1']);
      expect(await p.roomsOf('u_nobody')).toEqual([]);
      expect([...(await p.activeRooms())].sort()).toEqual(['r1', 'r2']);

      await p.leave('r2', ref('n1', 'a'), true);
      expect(await p.activeRooms()).toEqual(['r1']);
      expect(await p.roomsOf('u_a')).toEqual(['r1']);
      await p.leave('r1', ref('n1', 'a'), false); // grace: still counted
      expect(await p.counts(['r1', 'r2'])).toEqual([2, 0]);
      await p.remove('r1', 'u_b');
      expect(await p.activeRooms()).toEqual(['r1']);
      await p.remove('r1', 'u_a');
      expect(await p.activeRooms()).toEqual([]);
      expect(await p.counts(['r1'])).toEqual([0]);
    });

    test('close is safe twice', async () => {
      await p.connect(ref('n1', 'a'), user('u_a'));
      await p.join('r', ref('n1', 'a'), user('u_a'), 10);
      await p.close();
      await expect(p.close()).resolves.toBeUndefined();
    });
  });
}
