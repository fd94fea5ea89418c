import { PRESENCE_TTL_MS } from '../../src/app';
import { Frame, TestClient, sleep } from '../helpers/client';
import { processBackend, serverEnv, sharing } from '../helpers/cluster';
import { connectionTo, pidOf, startProcess, stopProcess } from '../helpers/process';
import { browserSession, FAST_SENDER } from '../helpers/server';
import { PostgresServer, RedisServer, freePort, startPostgres, startRedis } from '../helpers/services';
import { twoAppsScenarios } from './two-apps.test';

/**
 * The two-apps scenarios once more, on real server processes: each node is `node
 * dist/src/main.js` (what `npm start` runs, WORKERS=1) on its own port with DATABASE_URL and
 * REDIS_URL, three of them, clients of a scenario on different processes. Scenarios with the
 * same settings share one cluster of three (each makes its own rooms and users). Then a kill -9
 * of one worker of WORKERS=3 under one primary, the way it runs in production.
 */
let postgres: PostgresServer;
let redis: RedisServer;
const services = () => ({ postgres, redis });

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

twoAppsScenarios(sharing(processBackend(services), 3));

/** The room's entries one member saw, in order, over all its sockets: each join's history, then the pushes. */
function seenBy(sockets: TestClient[], room: string): any[] {
  const seen: any[] = [];
  for (const socket of sockets) {
    for (const f of socket.frames) {
      if (f.event === 'ack' && f.data?.room?.id === room && Array.isArray(f.data.history)) seen.push(...f.data.history);
      else if ((f.event === 'message' || f.event === 'system') && f.data.room === room) seen.push(f.data);
    }
  }
  return seen;
}

/** The whole stored log of a room, paged back with `history` (a request that changes nothing a member sees). */
async function storedLog(client: TestClient, room: string): Promise<any[]> {
  const log: any[] = [];
  for (let before: number | undefined; ; ) {
    const page: any[] = await client.request('history', before === undefined ? { room, limit: 100 } : { room, before, limit: 100 });
    log.unshift(...page);
    if (page.length < 100 || page[0].seq === 1) return log;
    before = page[0].seq;
  }
}

/** A WebSocket through the primary's port, and the node id of the worker it landed on. */
async function connectOnWorker(port: number, cookie?: string): Promise<{ node: string; client: TestClient }> {
  const { node, socket } = await connectionTo(port);
  const headers: Record<string, string> = cookie ? { cookie } : {};
  return { node, client: await TestClient.connect(`ws://127.0.0.1:${port}`, { headers, createConnection: () => socket }) };
}

/** One user of the kill -9 test: a browser session, and the sockets it had, one after another. */
class Member {
  readonly sockets: TestClient[] = [];
  readonly nodes: string[] = [];
  /** nonce → acked seq */
  readonly acked = new Map<string, number>();
  sent = 0;
  resent = 0;
  /** Resent nonces answered with an entry stored before the resume: the write committed, its ack was lost with the worker. */
  ackLost = 0;
  /** Acked nonces sent again after the resume (as a client that lost the ack would), answered with the stored entry. */
  repeated = 0;
  /** `unavailable` answers (the store could not take the write: retried with the same nonce, as the protocol says). */
  unavailable = 0;
  readonly resumes: { closed: number; resumed: number; attempts: number; node: string; since: number; missed: number }[] = [];

  constructor(
    readonly name: string,
    readonly cookie: string,
    first: { node: string; client: TestClient },
  ) {
    this.sockets.push(first.client);
    this.nodes.push(first.node);
  }

  get socket(): TestClient {
    return this.sockets[this.sockets.length - 1];
  }

  get user() {
    return this.sockets[0].user;
  }

  lastSeq(room: string): number {
    return Math.max(0, ...seenBy(this.sockets, room).map((e) => e.seq));
  }

  /**
   * After its socket closed: a new socket through the port (any worker), `join` with `since` =
   * the last seq seen; then the last acked message once more, as a client that lost its ack
   * would send it: the store answers with the entry it holds, and stores nothing new.
   */
  async resume(port: number, room: string): Promise<void> {
    await this.socket.closed;
    const closed = Date.now();
    const since = this.lastSeq(room);
    let next: { node: string; client: TestClient; ack: any } | undefined;
    for (let attempts = 1; !next; attempts++) {
      try {
        const { node, client } = await connectOnWorker(port, this.cookie);
        const ack = await client.request('join', { room, since });
        next = { node, client, ack };
        this.resumes.push({ closed, resumed: Date.now(), attempts, node, since, missed: ack.history.length });
      } catch (err) {
        if (Date.now() - closed > 20_000) throw err;
        await sleep(100);
      }
    }
    expect(next.ack.more).toBeUndefined();
    this.sockets.push(next.client);
    this.nodes.push(next.node);
    const [nonce, seq] = [...this.acked].pop()!;
    expect(await next.client.request('message', { room, text: nonce, nonce })).toMatchObject({ seq, nonce, text: nonce });
    this.repeated++;
  }

  /**
   * Sends `total` messages (nonce = text = `<name>-<i>`), up to `window` in flight, each lane
   * pausing `paceMs` after an ack. When the socket closes, resumes and sends again every
   * message not acked, with its nonce, before the rest.
   */
  async chat(port: number, room: string, total: number, window: number, paceMs: number): Promise<void> {
    const nonces = Array.from({ length: total }, (_, i) => `${this.name}-${i}`);
    const tried = new Set<string>();
    while (this.acked.size < total) {
      const socket = this.socket;
      let open = true;
      const gone = socket.closed.then(() => void (open = false));
      const since = this.resumes.length > 0 ? this.resumes[this.resumes.length - 1].since : 0;
      const todo = nonces.filter((n) => !this.acked.has(n));
      let next = 0;
      const lane = async () => {
        while (open && next < todo.length) {
          const nonce = todo[next++];
          const again = tried.has(nonce);
          tried.add(nonce);
          this.sent++;
          if (again) this.resent++;
          let reply: Frame | undefined;
          for (let tries = 1; ; tries++) {
            const call = socket.call('message', { room, text: nonce, nonce });
            call.catch(() => {}); // on a dead socket it times out; the race below has moved on
            reply = await Promise.race([call, gone]);
            if (reply?.event !== 'error' || reply.data.code !== 'unavailable' || tries === 5) break;
            this.unavailable++;
            await sleep(200);
          }
          if (!reply) return;
          if (reply.event !== 'ack') throw new Error(`${nonce} refused: ${JSON.stringify(reply.data)}`);
          this.acked.set(nonce, reply.data.seq);
          if (again && reply.data.seq <= since) this.ackLost++;
          await sleep(paceMs);
        }
      };
      await Promise.all(Array.from({ length: window }, lane));
      if (this.acked.size < total) await this.resume(port, room);
    }
  }
}

describe('WORKERS=3 under one primary (node:cluster, one port)', () => {
  test('Ctrl-C in a terminal (SIGINT to the whole process group): the primary stops the workers gracefully, each says "stopped", exit 0', async () => {
    const env = serverEnv(services, {});
    const primary = await startProcess({ ...env, WORKERS: '2' }, { listening: 2, group: true });
    const url = `http://127.0.0.1:${primary.port}`;
    const a = await TestClient.connect(url.replace('http', 'ws'));
    process.kill(-primary.child.pid!, 'SIGINT');
    expect((await a.closed).code).toBe(1001); // a graceful close, not a dropped connection
    expect((await primary.exited).code).toBe(0);
    const out = primary.output();
    expect(out).not.toMatch(/again: exiting now/);
    expect(out.match(/: stopped$/gm)).toHaveLength(3); // both workers, then the primary
    expect(out.trimEnd().split('\n').pop()).toMatch(/primary: stopped$/);
  });

  test('kill -9 of a worker: its clients resume elsewhere (nothing acked lost or doubled, one gap-free seq order), the others notice nothing, its users lapse and leave once, a new worker starts', async () => {
    const sweepMs = 250;
    const port = await freePort();
    const env = serverEnv(services, { ...FAST_SENDER, presenceGraceMs: 1000, sweepMs });
    const primary = await startProcess({ ...env, WORKERS: '3', PORT: String(port) }, { listening: 3 });
    try {
      const workers = primary.nodes();
      expect(new Set(workers).size).toBe(3);
      const url = `http://127.0.0.1:${port}`;

      // Three sockets on each worker, each its own browser session (a user who can come back).
      const cookies = await Promise.all(Array.from({ length: 9 }, async () => (await browserSession(url)).cookie));
      const placed = new Map<string, Member[]>(workers.map((w) => [w, []]));
      for (let attempts = 0; [...placed.values()].some((list) => list.length < 3); attempts++) {
        if (attempts > 60) throw new Error(`could not place 3 sockets on each worker: ${[...placed].map(([w, l]) => `${w}: ${l.length}`)}`);
        const { node, socket } = await connectionTo(port);
        const list = placed.get(node);
        if (!list || list.length >= 3) {
          socket.destroy();
          continue;
        }
        const cookie = cookies.pop()!;
        const client = await TestClient.connect(`ws://127.0.0.1:${port}`, { headers: { cookie }, createConnection: () => socket });
        list.push(new Member(`w${workers.indexOf(node)}-${list.length}`, cookie, { node, client }));
      }
      const victim = workers[1];
      const [victimChatters, survivorChatters] = [workers.filter((w) => w === victim), workers.filter((w) => w !== victim)].map((ws) =>
        ws.flatMap((w) => placed.get(w)!.slice(0, 2)),
      );
      const lurker = placed.get(victim)![2]; // on the victim; never comes back
      const readers = workers.filter((w) => w !== victim).map((w) => placed.get(w)![2]); // on the others; only read
      const chatters = [...victimChatters, ...survivorChatters];
      const everyone = [...chatters, lurker, ...readers];

      const room = (await readers[0].socket.request('create', { title: 'kill -9', max: 100 })).id as string;
      for (const m of everyone) await m.socket.request('join', { room });

      // Everyone chats; once a third is acked, kill -9 the victim worker (not the primary).
      const total = 60;
      const chatting = Promise.all(chatters.map((m) => m.chat(port, room, total, 4, 40)));
      const acked = () => chatters.reduce((n, m) => n + m.acked.size, 0);
      const third = Date.now() + 30_000;
      while (acked() < (chatters.length * total) / 3) {
        if (Date.now() > third) throw new Error(`only ${acked()} acked in 30 s`);
        await sleep(10);
      }
      const ackedAtKill = acked();
      process.kill(pidOf(victim), 'SIGKILL');
      const killed = Date.now();

      // Its users lapse from presence (the node stops beating; its sockets count for PRESENCE_TTL_MS at most).
      const lapsed = (async () => {
        for (;;) {
          const online: any[] = await readers[0].socket.request('availableUsers');
          if (!online.some((u) => u.id === lurker.user.id)) return Date.now() - killed;
          if (Date.now() - killed > 3 * PRESENCE_TTL_MS) throw new Error('the dead worker’s user is still online');
          await sleep(250);
        }
      })();
      const leftEntry = readers[1].socket.waitFor((f) => f.event === 'system' && f.data.room === room && f.data.kind === 'left', 0, 4 * PRESENCE_TTL_MS);
      // The primary starts a replacement (after 500 ms): a new node id says it listens.
      const replaced = (async () => {
        while (primary.nodes().length < 4) {
          if (Date.now() - killed > 20_000) throw new Error(`no replacement worker: ${primary.output()}`);
          await sleep(50);
        }
        return Date.now() - killed;
      })();
      // (Awaited below; a failure before that must not surface as an unhandled rejection.)
      for (const pending of [lapsed, leftEntry, replaced]) pending.catch(() => {});

      await chatting;
      const lurkerClosed = await lurker.socket.closed;

      // The replacement serves through the same port: a socket that lands on it joins and talks.
      const replacementMs = await replaced;
      const replacement = primary.nodes()[3];
      expect(workers).not.toContain(replacement);
      let newcomer: { node: string; client: TestClient } | undefined;
      for (let attempts = 0; !newcomer; attempts++) {
        if (attempts > 30) throw new Error('no connection reached the replacement worker');
        const { node, socket } = await connectionTo(port);
        if (node === replacement) newcomer = { node, client: await TestClient.connect(`ws://127.0.0.1:${port}`, { createConnection: () => socket }) };
        else socket.destroy();
      }
      await newcomer.client.request('join', { room, since: 0 });
      const hello = await newcomer.client.request('message', { room, text: 'from the replacement', nonce: 'new-1' });
      for (const m of [...chatters, ...readers]) await m.socket.next('message', (d) => d.room === room && d.seq === hello.seq, 0);

      const lapseMs = await lapsed;
      expect(lapseMs).toBeLessThanOrEqual(2 * PRESENCE_TTL_MS + 5000);
      const left = await leftEntry;
      const leftMs = Date.now() - killed;
      expect(left.data.user.id).toBe(lurker.user.id);
      // The users who came back were never gone: still online.
      const online = new Set(((await readers[0].socket.request('availableUsers')) as any[]).map((u) => u.id));
      for (const m of [...chatters, ...readers]) expect(online.has(m.user.id)).toBe(true);

      // The stored log: seqs 1..K; every acked message once, at its acked seq; one left, for the lurker only.
      await sleep(6 * sweepMs); // a few sweeps of every worker: a second left would be in by now
      const log = await storedLog(readers[0].socket, room);
      const K = log.length;
      expect(log.map((e) => e.seq)).toEqual(Array.from({ length: K }, (_, i) => i + 1));
      const messages = log.filter((e) => e.text !== undefined);
      expect(messages).toHaveLength(chatters.length * total + 1);
      expect(new Set(messages.map((e) => e.text)).size).toBe(messages.length);
      for (const m of chatters) {
        expect(m.acked.size).toBe(total);
        for (const [nonce, seq] of m.acked) {
          const stored = messages.filter((e) => e.nonce === nonce);
          expect(stored).toHaveLength(1);
          expect(stored[0]).toMatchObject({ seq, text: nonce, user: { id: m.user.id } });
        }
      }
      expect(log.filter((e) => e.kind === 'left').map((e) => e.user.id)).toEqual([lurker.user.id]);
      for (const m of [...everyone]) expect(log.filter((e) => e.kind === 'joined' && e.user.id === m.user.id)).toHaveLength(1);

      // Every member still here saw that log, each entry once, in seq order, with no gap.
      const bySeq = new Map(log.map((e) => [e.seq, e]));
      for (const m of [...chatters, ...readers, { sockets: [newcomer.client] }]) {
        const last = m.sockets[m.sockets.length - 1];
        await last.waitFor((f) => (f.event === 'message' || f.event === 'system') && f.data.room === room && f.data.seq === K, 0, 10_000);
        const seen = seenBy(m.sockets, room);
        expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: K }, (_, i) => i + 1));
        for (const e of seen) expect(e).toEqual(bySeq.get(e.seq));
      }

      // The lurker is no member any more; everyone else still is.
      const members = (await readers[0].socket.request('join', { room, since: K })).members.map((u: any) => u.id);
      expect(members.sort()).toEqual([...chatters, ...readers].map((m) => m.user.id).concat(newcomer.client.user.id).sort());

      // The victim's clients: closed once (no closing handshake), resumed once, on another worker.
      for (const m of victimChatters) {
        expect(m.sockets).toHaveLength(2);
        expect((await m.sockets[0].closed).code).toBe(1006);
        expect(m.resumes).toHaveLength(1);
        expect(m.resumes[0].node).not.toBe(victim);
      }
      expect(lurkerClosed.code).toBe(1006);
      // The others: never a close; they kept receiving (above).
      for (const m of [...survivorChatters, ...readers]) {
        expect(m.sockets).toHaveLength(1);
        expect(m.socket.ws.readyState).toBe(m.socket.ws.OPEN);
      }

      if (process.env.GIFCHAT_FIGURES) {
        const figures = {
          ackedAtKill,
          sent: chatters.reduce((n, m) => n + m.sent, 0),
          resent: chatters.reduce((n, m) => n + m.resent, 0),
          resentAlreadyStored: chatters.reduce((n, m) => n + m.ackLost, 0),
          ackedSentAgain: chatters.reduce((n, m) => n + m.repeated, 0),
          unavailable: chatters.reduce((n, m) => n + m.unavailable, 0),
          acked: acked(),
          entries: K,
          resumes: victimChatters.map((m) => ({ closedAfterMs: m.resumes[0].closed - killed, resumedAfterMs: m.resumes[0].resumed - killed, ...m.resumes[0] })),
          replacementMs,
          lapseMs,
          leftMs,
        };
        console.log(JSON.stringify(figures, null, 1));
      }

      await stopProcess(primary);
      expect((await primary.exited).code).toBe(0);
    } finally {
      await stopProcess(primary);
    }
  }, 120_000);
});
