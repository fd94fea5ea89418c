import { randomBytes } from 'node:crypto';
import { TestClient, sleep } from '../helpers/client';
import { Config } from '../../src/config';
import { Cluster, ClusterBackend, ClusterNode, inProcessBackend } from '../helpers/cluster';
import { browserSession, startServer, tempDataDir, FAST_SENDER } from '../helpers/server';

/** A socket to one node; with a session cookie it is that session's user (the cluster shares one cookie secret). */
function connect(node: ClusterNode, cookie?: string): Promise<TestClient> {
  return TestClient.connect(node.wsUrl, cookie ? { headers: { cookie } } : {});
}

/** A browser session's cookie, made on `node` (valid on every node of the cluster). */
async function sessionCookie(node: ClusterNode): Promise<string> {
  return (await browserSession(node.url)).cookie;
}

/** The room's entries a client got as pushes (`message` and `system`), in arrival order. */
function pushedEntries(client: TestClient, room: string): any[] {
  return client.frames.filter((f) => (f.event === 'message' || f.event === 'system') && f.data.room === room).map((f) => f.data);
}

/** 1..k */
const range = (k: number) => Array.from({ length: k }, (_, i) => i + 1);

/** Retries `check` until it stops throwing, at most `timeoutMs`; then throws its last error. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(25);
    }
  }
}

/** The whole log of a room, read by a member through a resume `join` (no new entry: it is already in). */
async function fullLog(member: TestClient, room: string): Promise<any[]> {
  const resumed = await member.request('join', { room, since: 0 });
  expect(resumed.more).toBeUndefined();
  return resumed.history;
}

/**
 * Joins a room the user is not in yet and waits for their own `joined` entry (in the ack's
 * history when it committed before the history was read, else pushed after the ack): the
 * joins of two apps commit through two write batchers, so a test that needs them in the log
 * in join order waits for each.
 */
async function joinCommitted(client: TestClient, room: string): Promise<any> {
  const ack = await client.request('join', { room });
  const own = (d: any) => d.room === room && d.kind === 'joined' && d.user.id === client.user.id;
  if (!ack.history.some(own)) await client.next('system', own, 0);
  return ack;
}

/** A room's listing in `chatrooms`, asked on a node. */
async function listed(client: TestClient, room: string): Promise<any> {
  return ((await client.request('chatrooms')).rooms as any[]).find((r) => r.id === room);
}

/** No scenario tests the rate limit: every cluster lets a socket send as fast as it likes. */
const unlimited: Partial<Config> = { ...FAST_SENDER };
/** Short presence and ownership timings, for the tests of grace and owner handover (one cluster, where they are shared). */
const quick = { presenceGraceMs: 300, ownerAwayMs: 400, sweepMs: 50 };

/**
 * The behaviour of a cluster of two (or three) servers: clients on each, asserting they behave
 * as ONE server. Run against any backend: apps in this process here; apps on PostgreSQL +
 * Redis in services.test.ts; server processes in processes.test.ts, where tests with the same
 * overrides share one cluster (so those follow each other below, and each test makes its own
 * rooms and users; 13 restarts a node of it, last).
 */
export function twoAppsScenarios(backend: ClusterBackend): void {
  describe(`servers of a cluster behave as one server: ${backend.name}`, () => {
    /** The test's cluster (closed after the test by the backend's helper, or here; a shared one keeps running). */
    let cluster: Cluster | undefined;
    /** What a shared cluster held when the test began (other tests' rooms and users), left out where a test compares a whole list. */
    let before = { rooms: new Set<string>(), users: new Set<string>() };
    const nodes = async (n: number, overrides: Partial<Config> = {}) => {
      cluster = await backend.start(n, { ...unlimited, ...overrides });
      before = { rooms: new Set(), users: new Set() };
      if (cluster.shared) {
        const probe = await connect(cluster.nodes[0]);
        const rooms: any[] = (await probe.request('chatrooms')).rooms;
        const users: any[] = await probe.request('availableUsers');
        before = { rooms: new Set(rooms.map((r) => r.id)), users: new Set([probe.user.id, ...users.map((u) => u.id)]) };
        await probe.close();
      }
      const [A, B, C] = cluster.nodes;
      return { cluster, A, B, C };
    };
    const two = (overrides: Partial<Config> = {}) => nodes(2, overrides);
    /** A `chatrooms` or `availableUsers` list without what was there before the test. */
    const ours = {
      rooms: (list: any[]) => list.filter((r) => !before.rooms.has(r.id)),
      users: (list: any[]) => list.filter((u) => !before.users.has(u.id)),
    };
    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });
    afterAll(async () => {
      await backend.release?.();
    });

    test('1. a room created on A is pushed to and listed on B, and joinable there', async () => {
      const { A, B } = await two();
      const creator = await connect(A);
      const lobbyB = await connect(B);
      const joiner = await connect(B);
      const created = lobbyB.next('roomCreated');
      const room = await creator.request('create', { title: 'Cats', max: 5 });
      expect((await created).data).toEqual(room);
      expect(ours.rooms((await lobbyB.request('chatrooms')).rooms)).toEqual([room]);
      const joined = await joinCommitted(joiner, room.id);
      expect(joined.room).toMatchObject({ id: room.id, title: 'Cats', max: 5, members: 1, owner: creator.user });
      expect(joined.members).toEqual([joiner.user]);
      expect(joined.history.filter((e: any) => e.user.id !== joiner.user.id)).toEqual([]); // at most their own joined
      const second = await creator.request('join', { room: room.id });
      expect(second.room.members).toBe(2);
      expect(second.members).toEqual([joiner.user, creator.user]);
      // The creator's own joined entry (seq 2) is in the history when it committed before the read.
      expect(second.history.map((e: any) => [e.seq, e.kind, e.user.id]).filter((e: any[]) => e[2] !== creator.user.id)).toEqual([[1, 'joined', joiner.user.id]]);
    });

    test('2. concurrent messages from three apps get seqs 1..K, no gap, no duplicate, and every socket sees that one order', async () => {
      const { A, B, C } = await nodes(3);
      const clients = await Promise.all([A, B, C, A, B, C].map((node) => connect(node)));
      const room = await clients[0].request('create', { title: 'busy', max: 100 });
      // Joins one after another; each join's history holds what was committed by then, the rest comes as pushes.
      const joinHistory = new Map<TestClient, number[]>();
      for (const c of clients) joinHistory.set(c, (await c.request('join', { room: room.id })).history.map((e: any) => e.seq));

      const perClient = 30;
      const replies = await Promise.all(
        clients.flatMap((c, ci) => range(perClient).map((i) => c.call('message', { room: room.id, text: `c${ci}-m${i}` }))),
      );
      expect(replies.filter((f) => f.event !== 'ack')).toEqual([]);
      const K = clients.length + clients.length * perClient; // one joined entry per user, then the messages
      const acked = replies.map((f) => f.data.seq as number);
      expect(new Set(acked).size).toBe(acked.length);
      expect(Math.max(...acked)).toBe(K);
      // Each socket's own messages kept its sending order.
      for (let ci = 0; ci < clients.length; ci++) {
        const own = replies.slice(ci * perClient, (ci + 1) * perClient).map((f) => f.data.seq);
        expect(own).toEqual([...own].sort((x, y) => x - y));
      }

      // Every socket, on any app, gets the room up to seq K (before anyone resumes: a resume
      // would fold held pushes into its ack).
      for (const c of clients) {
        await c.waitFor((f) => (f.event === 'message' || f.event === 'system') && f.data.room === room.id && f.data.seq === K, 0);
      }

      // The stored log: seqs 1..K; one joined entry per user and every message once (the two
      // apps' batchers may interleave them: the order is the log's, the same for everyone).
      const log = await fullLog(clients[0], room.id);
      expect(log.map((e) => e.seq)).toEqual(range(K));
      const joins = log.filter((e) => e.kind);
      expect(joins.map((e) => e.kind)).toEqual(clients.map(() => 'joined'));
      expect(new Set(joins.map((e) => e.user.id))).toEqual(new Set(clients.map((c) => c.user.id)));
      expect(log.filter((e) => e.text).map((e) => e.text).sort()).toEqual(
        clients.flatMap((_, ci) => range(perClient).map((i) => `c${ci}-m${i}`)).sort(),
      );
      const bySeq = new Map(log.map((e) => [e.seq, e]));

      // Every socket, on any app: what its join history held, then its pushes, is exactly 1..K,
      // and each pushed entry is the stored one.
      for (const c of clients) {
        const pushed = pushedEntries(c, room.id);
        expect([...joinHistory.get(c)!, ...pushed.map((e) => e.seq)]).toEqual(range(K));
        for (const e of pushed) expect(e).toEqual(bySeq.get(e.seq));
      }
    });

    test('3. names are unique across both apps, case-insensitively, and freed when their holder goes offline', async () => {
      const { A, B } = await two();
      const a = await connect(A);
      const b = await connect(B);
      expect(await a.request('register', { name: 'Zed' })).toEqual({ ...a.user, name: 'Zed' });
      await expect(b.request('register', { name: 'zed' })).rejects.toMatchObject({ code: 'name_taken' });
      expect(await b.request('register', { name: 'Yan' })).toMatchObject({ name: 'Yan' });
      await expect(a.request('register', { name: 'YAN' })).rejects.toMatchObject({ code: 'name_taken' });
      // Concurrent claims of one free name from both apps: exactly one wins.
      const [ra, rb] = await Promise.all([a.call('register', { name: 'Both' }), b.call('register', { name: 'both' })]);
      expect([ra.event, rb.event].sort()).toEqual(['ack', 'error']);
      expect((ra.event === 'error' ? ra : rb).data.code).toBe('name_taken');
      // Each app lists each user under their current name.
      const names = (list: any[]) => new Map(list.map((u) => [u.id, u.name]));
      const [onA, onB] = [names(ours.users(await a.request('availableUsers'))), names(ours.users(await b.request('availableUsers')))];
      expect(onA).toEqual(onB);
      await a.close();
      expect(await eventually(() => b.request('register', { name: 'zed' }))).toMatchObject({ name: 'zed' });
    });

    test('3b. register pushes renamed {room, user} to the rooms the user is in and renamed {user} to their own sockets, across apps', async () => {
      const { A, B } = await two();
      const cookie = await sessionCookie(A);
      const tabA = await connect(A, cookie);
      const tabB = await connect(B, cookie); // the same user, not in the room
      expect(tabB.user).toEqual(tabA.user);
      const member = await connect(B);
      const outsider = await connect(A);
      const room = await member.request('create', { title: 'r' });
      await tabA.request('join', { room: room.id });
      await member.request('join', { room: room.id });
      const inRoom = member.next('renamed', (d) => d.room === room.id);
      const own = tabB.next('renamed');
      const user = await tabA.request('register', { name: 'Renamed' });
      expect(user).toEqual({ ...tabA.user, name: 'Renamed' });
      expect((await inRoom).data).toEqual({ room: room.id, user });
      expect((await own).data).toEqual({ user });
      await outsider.request('chatrooms');
      expect(outsider.all('renamed')).toEqual([]);
      // The shared presence holds the new name: members lists on either app show it.
      expect((await member.request('join', { room: room.id })).members).toEqual([user, member.user]);
      expect((await tabA.request('join', { room: room.id })).members).toEqual([user, member.user]);
      expect(await member.request('availableUsers')).toEqual(expect.arrayContaining([user]));
    });

    test('4. whispers cross apps (to every socket of the target and of the sender); availableUsers is the same on all', async () => {
      const { A, B, C } = await nodes(3);
      const cookie = await sessionCookie(A);
      const senderA = await connect(A, cookie);
      const senderB = await connect(B, cookie); // the sender's second tab, on another app
      const target = await connect(B);
      const outsider = await connect(C);
      const atTarget = target.next('whisper');
      const atSenderA = senderA.next('whisper');
      const atSenderB = senderB.next('whisper');
      const w = await senderA.request('whisper', { to: target.user.id, text: 'psst' });
      expect(w).toEqual({ id: expect.any(String), from: senderA.user, to: target.user, text: 'psst', ts: expect.any(Number) });
      for (const got of [atTarget, atSenderA, atSenderB]) expect((await got).data).toEqual(w);
      // And back, from B to a user whose sockets are on both apps.
      const backA = senderA.next('whisper');
      const backB = senderB.next('whisper');
      const reply = await target.request('whisper', { to: senderA.user.id, text: 'hi back' });
      expect((await backA).data).toEqual(reply);
      expect((await backB).data).toEqual(reply);
      await outsider.request('chatrooms');
      expect(outsider.all('whisper')).toEqual([]);
      // Everyone online, each once, whichever app is asked.
      const byId = (list: any[]) => [...list].sort((x, y) => x.id.localeCompare(y.id));
      const expected = byId([senderA.user, target.user, outsider.user]);
      expect(byId(ours.users(await outsider.request('availableUsers')))).toEqual(expected);
      expect(byId(ours.users(await target.request('availableUsers')))).toEqual(expected);
      expect(byId(ours.users(await senderA.request('availableUsers')))).toEqual(expected);
      // Offline is offline everywhere.
      await target.close();
      await eventually(() => expect(senderA.request('whisper', { to: target.user.id, text: 'gone?' })).rejects.toMatchObject({ code: 'not_found' }));
    });

    test('5. member counts, member lists and room_full agree on both apps; a full room refuses on either', async () => {
      const { A, B } = await two();
      const x = await connect(A);
      const y = await connect(B);
      const z = await connect(A);
      const w = await connect(B);
      const room = await x.request('create', { title: 'pair', max: 2 });
      expect((await x.request('join', { room: room.id })).room.members).toBe(1);
      const yJoin = await y.request('join', { room: room.id });
      expect(yJoin.room.members).toBe(2);
      expect(yJoin.members).toEqual([x.user, y.user]);
      await expect(z.request('join', { room: room.id })).rejects.toMatchObject({ code: 'room_full' });
      await expect(w.request('join', { room: room.id })).rejects.toMatchObject({ code: 'room_full' });
      expect((await listed(z, room.id)).members).toBe(2);
      expect((await listed(w, room.id)).members).toBe(2);
      // The member list is the same whichever app answers the join (resumes: already in).
      const onA = await x.request('join', { room: room.id });
      const onB = await y.request('join', { room: room.id });
      expect(onA.members).toEqual([x.user, y.user]);
      expect(onB.members).toEqual(onA.members);
      expect(onB.room).toEqual(onA.room);

      // The last place, claimed from both apps at once: exactly one gets it.
      const race = await x.request('create', { title: 'race', max: 2 });
      await x.request('join', { room: race.id });
      const [rz, rw] = await Promise.all([z.call('join', { room: race.id }), w.call('join', { room: race.id })]);
      expect([rz.event, rw.event].sort()).toEqual(['ack', 'error']);
      const loser = rz.event === 'error' ? rz : rw;
      expect(loser.data.code).toBe('room_full');
      expect((await listed(x, race.id)).members).toBe(2);
      expect((await listed(y, race.id)).members).toBe(2);
    });

    test('6. history on B holds the messages sent on A, as the same JSON as on A', async () => {
      const { A, B } = await two();
      const a = await connect(A);
      const b = await connect(B);
      const room = await a.request('create', { title: 'h' });
      await a.request('join', { room: room.id });
      await b.request('join', { room: room.id });
      const sent = [];
      for (let i = 0; i < 3; i++) sent.push(await a.request('message', { room: room.id, text: `from A ${i}`, nonce: `n${i}` }));
      sent.push(await b.request('message', { room: room.id, text: 'from B' }));
      const onA = await a.request('history', { room: room.id });
      const onB = await b.request('history', { room: room.id });
      expect(JSON.stringify(onB)).toBe(JSON.stringify(onA));
      expect(onB.filter((e: any) => e.text)).toEqual(sent);
      expect(onB.map((e: any) => e.seq)).toEqual(range(6));
      const page = await b.request('history', { room: room.id, before: 5, limit: 2 });
      expect(page).toEqual(onA.slice(2, 4));
    });

    test('7. a kick on A reaches the user on B and the room on C; the ban holds on every app', async () => {
      const { A, B, C } = await nodes(3);
      const owner = await connect(A);
      const cookie = await sessionCookie(B);
      const victimB = await connect(B, cookie);
      const witness = await connect(C);
      const room = await owner.request('create', { title: 'strict' });
      for (const c of [owner, victimB, witness]) await joinCommitted(c, room.id);
      const kicked = victimB.next('kicked');
      const entryOnB = witness.next('system', (d) => d.kind === 'kicked');
      const entryOnA = owner.next('system', (d) => d.kind === 'kicked');
      expect(await owner.request('kick', { room: room.id, user: victimB.user.id })).toEqual({});
      expect((await kicked).data).toEqual({ room: room.id });
      for (const got of [entryOnA, entryOnB]) expect((await got).data).toMatchObject({ room: room.id, kind: 'kicked', user: victimB.user });
      await expect(victimB.request('message', { room: room.id, text: 'still here?' })).rejects.toMatchObject({ code: 'not_joined' });
      await expect(victimB.request('join', { room: room.id })).rejects.toMatchObject({ code: 'banned' });
      for (const node of [A, C]) {
        const victim = await connect(node, cookie);
        expect(victim.user.id).toBe(victimB.user.id);
        await expect(victim.request('join', { room: room.id })).rejects.toMatchObject({ code: 'banned' });
      }
      expect((await listed(owner, room.id)).members).toBe(2);
      expect((await listed(witness, room.id)).members).toBe(2);
      const members = (await witness.request('join', { room: room.id })).members;
      expect(members).toEqual([owner.user, witness.user]);
      // No `left` for a kick: the kicked entry says it.
      const log = await fullLog(witness, room.id);
      expect(log.filter((e) => e.user.id === victimB.user.id).map((e) => e.kind)).toEqual(['joined', 'kicked']);
    });

    test('8a. the creator reloading onto the other app stays owner, keeps their place, and nothing is recorded', async () => {
      const { A, B } = await two();
      const cookie = await sessionCookie(A);
      const ownerA = await connect(A, cookie);
      const owner = ownerA.user;
      const room = await ownerA.request('create', { title: 'mine' });
      await joinCommitted(ownerA, room.id);
      const member = await connect(B);
      await joinCommitted(member, room.id);
      const lobbyA = await connect(A);

      await ownerA.close(); // the reload: this socket goes, the page's new socket lands on B
      const ownerB = await connect(B, cookie);
      expect(ownerB.user).toEqual(owner);
      const back = await ownerB.request('join', { room: room.id });
      expect(back.room.owner).toEqual(owner);
      expect(back.members).toEqual([owner, member.user]); // still first: kept their place
      const sent = await ownerB.request('message', { room: room.id, text: 'back' });
      await member.next('message', (d) => d.seq === sent.seq, 0);
      const log = await member.request('history', { room: room.id });
      expect(log.map((e: any) => [e.kind ?? 'message', e.user.id])).toEqual([
        ['joined', owner.id],
        ['joined', member.user.id],
        ['message', owner.id],
      ]);
      expect((await listed(lobbyA, room.id)).owner).toEqual(owner);
      expect((await listed(member, room.id)).owner).toEqual(owner);
      expect(member.all('owner')).toEqual([]);
      // And has the powers, from the other app.
      expect(await ownerB.request('kick', { room: room.id, user: member.user.id })).toEqual({});
    });

    test('9. a delete on A removes the room for B: roomRemoved to its sockets, then not_found', async () => {
      const { A, B } = await two();
      const owner = await connect(A);
      const member = await connect(B);
      const lobbyB = await connect(B);
      const room = await owner.request('create', { title: 'doomed' });
      await owner.request('join', { room: room.id });
      await member.request('join', { room: room.id });
      await member.request('message', { room: room.id, text: 'bye' });
      await expect(member.request('delete', { room: room.id })).rejects.toMatchObject({ code: 'forbidden' });
      const removedMember = member.next('roomRemoved');
      const removedLobby = lobbyB.next('roomRemoved');
      expect(await owner.request('delete', { room: room.id })).toEqual({});
      expect((await removedMember).data).toEqual({ id: room.id });
      expect((await removedLobby).data).toEqual({ id: room.id });
      expect(ours.rooms((await lobbyB.request('chatrooms')).rooms)).toEqual([]);
      await expect(lobbyB.request('join', { room: room.id })).rejects.toMatchObject({ code: 'not_found' });
      await expect(member.request('message', { room: room.id, text: 'x' })).rejects.toMatchObject({ code: 'not_found' });
      await expect(member.request('history', { room: room.id })).rejects.toMatchObject({ code: 'not_found' });
      await expect(owner.request('delete', { room: room.id })).rejects.toMatchObject({ code: 'not_found' });
    });

    test('10. the last roomUpdated seen by a lobby socket on each app carries the same count: the distinct users present', async () => {
      const { A, B, C } = await nodes(3);
      const lobbies = [await connect(A), await connect(B), await connect(C)];
      const creator = await connect(A);
      const room = await creator.request('create', { title: 'counted', max: 50 });
      const cookie = await sessionCookie(B);
      const tabB = await connect(B, cookie);
      const tabC = await connect(C, cookie); // one user, two apps: counted once
      const others = [await connect(A), await connect(B), await connect(C)];
      for (const c of [creator, tabB, tabC, ...others]) await c.request('join', { room: room.id });
      const users = 5;
      for (const lobby of lobbies) await lobby.next('roomUpdated', (d) => d.id === room.id && d.members === users, 0);
      await sleep(1500); // past the update interval: any trailing update has arrived
      const last = (lobby: TestClient) => lobby.all('roomUpdated').filter((d) => d.id === room.id).pop();
      expect(last(lobbies[0])).toMatchObject({ id: room.id, members: users, owner: creator.user });
      for (const lobby of lobbies) {
        expect(last(lobby).members).toBe(users);
        expect(last(lobby).owner).toEqual(creator.user);
        expect((await listed(lobby, room.id)).members).toBe(users);
      }
      // And down again after an explicit leave (recorded at once, counted at once).
      const marks = lobbies.map((lobby) => lobby.frames.length);
      await others[2].request('leave', { room: room.id });
      for (const [i, lobby] of lobbies.entries()) {
        await lobby.next('roomUpdated', (d) => d.id === room.id && d.members === users - 1, marks[i]);
        expect((await listed(lobby, room.id)).members).toBe(users - 1);
      }
    });

    test('13. restarting one app keeps the shared truth: bans, owner, log and the other app carry on', async () => {
      const { cluster: c } = await two(); // where clusters are shared, it restarts a node of the shared one (the last test using it)
      if (!c.restart) return; // a backend that cannot restart a node
      const ownerCookie = await sessionCookie(c.nodes[0]);
      const victimCookie = await sessionCookie(c.nodes[1]);
      const owner = await connect(c.nodes[0], ownerCookie);
      const victim = await connect(c.nodes[0], victimCookie);
      const witness = await connect(c.nodes[1]);
      const room = await owner.request('create', { title: 'survives' });
      for (const x of [owner, victim, witness]) await x.request('join', { room: room.id });
      await owner.request('kick', { room: room.id, user: victim.user.id });
      const sent = await witness.request('message', { room: room.id, text: 'before' });

      await c.restart(0);
      const [A, B] = c.nodes;
      // The other app never stopped: its member is still in and served.
      const during = await witness.request('message', { room: room.id, text: 'during' });
      expect(during.seq).toBe(sent.seq + 1);
      const ownerAgain = await connect(A, ownerCookie);
      expect(ownerAgain.user).toEqual(owner.user);
      const back = await ownerAgain.request('join', { room: room.id });
      expect(back.room.owner).toEqual(owner.user);
      expect((await listed(witness, room.id)).owner).toEqual(owner.user);
      for (const node of [A, B]) {
        const v = await connect(node, victimCookie);
        await expect(v.request('join', { room: room.id })).rejects.toMatchObject({ code: 'banned' });
      }
      const after = await ownerAgain.request('message', { room: room.id, text: 'after' });
      expect(after.seq).toBeGreaterThan(during.seq);
      await witness.next('message', (d) => d.seq === after.seq, 0);
    });

    test('8b. an owner away for ownerAwayMs while the room has members hands it to the member present longest, seen on both apps', async () => {
      const { ownerAwayMs } = quick;
      const { A, B } = await two(quick);
      const owner = await connect(A);
      const room = await owner.request('create', { title: 'handover' });
      await owner.request('join', { room: room.id });
      const longest = await connect(B);
      await longest.request('join', { room: room.id });
      const later = await connect(A);
      await later.request('join', { room: room.id });
      const lobbyB = await connect(B);

      const pushB = longest.next('owner');
      const pushA = later.next('owner');
      const entry = later.next('system', (d) => d.kind === 'owner');
      const ownerLeft = later.next('system', (d) => d.kind === 'left' && d.user.id === owner.user.id);
      const gone = Date.now();
      await owner.close(); // for good
      expect((await pushB).data).toEqual({ room: room.id, user: longest.user });
      expect(Date.now() - gone).toBeGreaterThanOrEqual(ownerAwayMs - 50);
      expect((await pushA).data).toEqual({ room: room.id, user: longest.user });
      expect((await entry).data).toMatchObject({ room: room.id, kind: 'owner', user: longest.user });
      await ownerLeft; // the grace ran out too
      // Once: one owner entry, though both apps sweep.
      await sleep(300);
      const log = await fullLog(later, room.id);
      expect(log.filter((e) => e.kind === 'owner')).toHaveLength(1);
      expect(longest.all('owner')).toHaveLength(1);
      expect((await listed(lobbyB, room.id)).owner).toEqual(longest.user);
      expect((await listed(later, room.id)).owner).toEqual(longest.user);
      await expect(later.request('kick', { room: room.id, user: longest.user.id })).rejects.toMatchObject({ code: 'forbidden' });
      expect(await longest.request('kick', { room: room.id, user: later.user.id })).toEqual({});
    });

    test('8c. an owner back (on any app) within ownerAwayMs keeps the room; an empty room keeps its owner', async () => {
      const { ownerAwayMs } = quick;
      const { A, B } = await two(quick);
      const cookie = await sessionCookie(A);
      const ownerA = await connect(A, cookie);
      const owner = ownerA.user;
      const room = await ownerA.request('create', { title: 'kept' });
      await ownerA.request('join', { room: room.id });
      const member = await connect(B);
      await member.request('join', { room: room.id });
      // Offline briefly, then online on B (not even in the room): online anywhere is not away.
      await ownerA.close();
      await sleep(100);
      const ownerB = await connect(B, cookie);
      await sleep(ownerAwayMs + 400);
      expect(member.all('owner')).toEqual([]);
      expect((await listed(member, room.id)).owner).toEqual(owner);

      // An empty room: its owner offline far longer than ownerAwayMs, it stays theirs.
      const empty = await ownerB.request('create', { title: 'empty' });
      await ownerB.request('join', { room: empty.id });
      await ownerB.close();
      await sleep(ownerAwayMs + 600);
      const lobbyA = await connect(A);
      expect((await listed(lobbyA, empty.id)).owner).toEqual(owner);
      // Nobody takes it over by joining: a joiner is just a member...
      const joiner = await connect(A);
      const joinedAt = Date.now();
      const joined = await joiner.request('join', { room: empty.id });
      expect(joined.room.owner).toEqual(owner);
      // (The joiner's own joined entry may be in the history too, when it committed before the read.)
      expect(joined.history.filter((e: any) => e.user.id !== joiner.user.id).map((e: any) => [e.kind, e.user.id])).toEqual([
        ['joined', owner.id],
        ['left', owner.id],
      ]);
      // ...until the owner has been away ownerAwayMs while the room has had a member.
      const passed = await joiner.next('owner', () => true, 0);
      expect(passed.data).toEqual({ room: empty.id, user: joiner.user });
      expect(Date.now() - joinedAt).toBeGreaterThanOrEqual(ownerAwayMs - 50);
    });

    test('11. presence grace across apps: a drop records one left after the grace; a leave records it at once; a reload in time records nothing', async () => {
      const { presenceGraceMs } = quick;
      const { A, B } = await two(quick);
      const cookie = await sessionCookie(A);
      const reloader = await connect(A, cookie);
      const dropper = await connect(A);
      const leaver = await connect(B);
      const watcher = await connect(B);
      const room = await watcher.request('create', { title: 'grace' });
      for (const c of [reloader, dropper, leaver, watcher]) await c.request('join', { room: room.id });

      // An explicit leave is in the log by the time it is acked.
      await leaver.request('leave', { room: room.id });
      let log: any[] = await watcher.request('history', { room: room.id });
      expect(log.filter((e) => e.kind === 'left').map((e) => e.user.id)).toEqual([leaver.user.id]);

      // A reload onto the other app within the grace: no left, no joined, same place.
      await reloader.close();
      const again = await connect(B, cookie);
      const back = await again.request('join', { room: room.id });
      expect(back.members).toEqual([reloader.user, dropper.user, watcher.user]);

      // A drop: left once the grace is over (recorded once, though both apps sweep).
      const dropped = Date.now();
      const left = watcher.next('system', (d) => d.kind === 'left' && d.user.id === dropper.user.id, 0);
      dropper.drop();
      await left;
      expect(Date.now() - dropped).toBeGreaterThanOrEqual(presenceGraceMs - 50);
      await sleep(presenceGraceMs);
      log = await fullLog(watcher, room.id);
      const of = (id: string) => log.filter((e) => e.user.id === id).map((e) => e.kind ?? 'message');
      expect(of(dropper.user.id)).toEqual(['joined', 'left']);
      expect(of(reloader.user.id)).toEqual(['joined']);
      expect(of(leaver.user.id)).toEqual(['joined', 'left']);
      expect((await listed(watcher, room.id)).members).toBe(2);
      expect((await again.request('join', { room: room.id })).members).toEqual([reloader.user, watcher.user]);
    });

    test('12. a room with no members and no entries for roomTtlMs is removed, for both apps; a room with a member stays', async () => {
      const roomTtlMs = 500;
      const { A, B } = await two({ roomTtlMs, sweepMs: 50 });
      const lobbyA = await connect(A);
      const lobbyB = await connect(B);
      const creator = await connect(A);
      const idle = await creator.request('create', { title: 'idle' });
      const created = Date.now();
      const busy = await creator.request('create', { title: 'busy' });
      const member = await connect(B);
      await member.request('join', { room: busy.id });
      const removedA = lobbyA.next('roomRemoved', (d) => d.id === idle.id, 0);
      const removedB = lobbyB.next('roomRemoved', (d) => d.id === idle.id, 0);
      expect((await removedB).data).toEqual({ id: idle.id });
      expect(Date.now() - created).toBeGreaterThanOrEqual(roomTtlMs - 50);
      expect((await removedA).data).toEqual({ id: idle.id });
      await sleep(roomTtlMs + 200);
      for (const lobby of [lobbyA, lobbyB]) {
        expect(ours.rooms((await lobby.request('chatrooms')).rooms).map((r) => r.id)).toEqual([busy.id]);
        expect(lobby.all('roomRemoved').filter((d) => d.id === idle.id)).toHaveLength(1);
      }
      await expect(member.request('join', { room: idle.id })).rejects.toMatchObject({ code: 'not_found' });
    });
  });
}

// Run here against the in-process backend; a file that imports twoAppsScenarios runs them against its own backend (and not this).
if (expect.getState().testPath === __filename) {
  twoAppsScenarios(inProcessBackend);

  describe('a restart on the same data dir keeps kick bans and owners', () => {
    test('a ban, a creator and a transferred owner survive building a new app', async () => {
      const dataDir = tempDataDir();
      const cookieSecret = randomBytes(32).toString('hex');
      // Behind a proxy, so the kicked user's address (banned with them) is theirs alone.
      const first = await startServer({ dataDir, cookieSecret, trustProxy: true });
      const victimAddress = { 'x-forwarded-for': '203.0.113.9' };
      const cookies = {
        creator: (await browserSession(first.url)).cookie,
        victim: (await browserSession(first.url)).cookie,
        heir: (await browserSession(first.url)).cookie,
      };
      const creator = await TestClient.connect(first.wsUrl, { headers: { cookie: cookies.creator } });
      const victim = await TestClient.connect(first.wsUrl, { headers: { cookie: cookies.victim, ...victimAddress } });
      const heir = await TestClient.connect(first.wsUrl, { headers: { cookie: cookies.heir } });
      const kept = await creator.request('create', { title: 'kept' });
      const handed = await creator.request('create', { title: 'handed' });
      for (const c of [creator, victim]) await c.request('join', { room: kept.id });
      for (const c of [creator, heir]) await c.request('join', { room: handed.id });
      await creator.request('kick', { room: kept.id, user: victim.user.id });
      await creator.request('transfer', { room: handed.id, user: heir.user.id });
      await first.stop();

      const second = await startServer({ dataDir, cookieSecret, trustProxy: true });
      const connectAs = (cookie: string, headers: Record<string, string> = {}) => TestClient.connect(second.wsUrl, { headers: { cookie, ...headers } });
      const creator2 = await connectAs(cookies.creator);
      const victim2 = await connectAs(cookies.victim, victimAddress);
      const heir2 = await connectAs(cookies.heir);
      expect([creator2.user.id, victim2.user.id, heir2.user.id]).toEqual([creator.user.id, victim.user.id, heir.user.id]);
      const rooms = (await creator2.request('chatrooms')).rooms;
      expect(rooms.map((r: any) => [r.id, r.owner.id]).sort()).toEqual(
      // Most recent activity first: rooms made in the same millisecond come in either order.
      [
        [kept.id, creator.user.id],
        [handed.id, heir.user.id],
      ].sort());
      await expect(victim2.request('join', { room: kept.id })).rejects.toMatchObject({ code: 'banned' });
      // Their address's ban too: a new user from there is kept out.
      const stranger = await TestClient.connect(second.wsUrl, { headers: victimAddress });
      await expect(stranger.request('join', { room: kept.id })).rejects.toMatchObject({ code: 'banned' });
      // The powers follow the stored owner.
      await creator2.request('join', { room: handed.id });
      await heir2.request('join', { room: handed.id });
      await expect(creator2.request('kick', { room: handed.id, user: heir2.user.id })).rejects.toMatchObject({ code: 'forbidden' });
      expect(await heir2.request('kick', { room: handed.id, user: creator2.user.id })).toEqual({});
      await creator2.request('join', { room: kept.id });
      await heir2.request('join', { room: kept.id });
      expect(await creator2.request('kick', { room: kept.id, user: heir2.user.id })).toEqual({});
    });
  });
}
