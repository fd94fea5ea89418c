import path from 'node:path';
import vm from 'node:vm';
import { Config } from '../../src/config';
import { SystemKind } from '../../src/protocol';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { AppendOp } from '../../src/store/store';
import { Frame, TestClient, sleep } from '../helpers/client';
import { FaultyStore, faultyStore } from '../helpers/faulty-store';
import { TestServer, startServer, tempDataDir, FAST_SENDER } from '../helpers/server';

/**
 * The real process. Jest hands test code a copy of `process` whose listeners never hear
 * process events; the app's promises reject on the real one.
 */
const realProcess = vm.runInThisContext('process') as NodeJS.Process;

/** An op appending a system entry of `kind` (in `room`, when given). */
const systemOp = (kind: SystemKind, room?: string) => (op: AppendOp) =>
  'kind' in op.entry && op.entry.kind === kind && (room === undefined || op.entry.room === room);

/** An op appending a chat message (in `room`, with `text`, when given). */
const messageOp =
  (room?: string, text?: string) =>
  (op: AppendOp): boolean =>
    !('kind' in op.entry) && (room === undefined || op.entry.room === room) && (text === undefined || op.entry.text === text);

const range = (k: number) => Array.from({ length: k }, (_, i) => i + 1);

/** The room's log, read by a member through a resume `join` (no new entry: it is already in). */
async function fullLog(member: TestClient, room: string): Promise<any[]> {
  return (await member.request('join', { room, since: 0 })).history;
}

/** What a request was answered with: an ack, or an error with this code (anything else fails). */
function ackOr(reply: Frame, code: string): 'ack' | 'error' {
  if (reply.event === 'error') expect(reply.data.code).toBe(code);
  else expect(reply.event).toBe('ack');
  return reply.event === 'error' ? 'error' : 'ack';
}

describe('no fire-and-forget write can crash the process', () => {
  const started: { s: TestServer; store: FaultyStore }[] = [];
  let rejections: jest.Mock;
  let exceptions: jest.Mock;

  beforeEach(() => {
    rejections = jest.fn();
    exceptions = jest.fn();
    realProcess.on('unhandledRejection', rejections);
    realProcess.on('uncaughtException', exceptions);
  });

  afterEach(async () => {
    // Servers first (they drain their writes into the store), then the stores: an app leaves a store it was handed open.
    for (const { s, store } of started.splice(0)) {
      await s.stop();
      await store.close();
    }
    realProcess.off('unhandledRejection', rejections);
    realProcess.off('uncaughtException', exceptions);
  });

  /** A server on a store that fails on demand. */
  async function start(overrides: Partial<Config> = {}) {
    const dataDir = tempDataDir();
    const store = faultyStore(openSqliteStore(path.join(dataDir, 'gif-chat.db')));
    const s = await startServer({ dataDir, ...overrides }, { store });
    started.push({ s, store });
    return { s, store };
  }

  /** Nothing rejected unhandled and nothing was thrown uncaught (after a moment for stragglers). */
  async function expectNoCrash(): Promise<void> {
    await sleep(100);
    expect(rejections.mock.calls.map(([reason]) => String(reason))).toEqual([]);
    expect(exceptions.mock.calls.map(([err]) => String(err))).toEqual([]);
  }

  test('a joined entry that cannot be committed: the join still answers, the process lives on, other rooms commit', async () => {
    const { s, store } = await start();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const x = await a.request('create', { title: 'X' });
    const y = await a.request('create', { title: 'Y' });
    await b.request('join', { room: y.id });

    store.failWhen(systemOp('joined', x.id));
    const outcome = ackOr(await a.call('join', { room: x.id }), 'unavailable');
    // Whatever the answer, the room agrees with it.
    if (outcome === 'ack') {
      expect(await a.request('message', { room: x.id, text: 'in' })).toMatchObject({ room: x.id, text: 'in' });
    } else {
      await expect(a.request('message', { room: x.id, text: 'in?' })).rejects.toMatchObject({ code: 'not_joined' });
    }
    const rooms = (await a.request('chatrooms')).rooms;
    expect(rooms.map((r: any) => [r.id, r.members]).sort()).toEqual(
      // Most recent activity first: rooms made in the same millisecond come in either order.
      [
      [x.id, outcome === 'ack' ? 1 : 0],
      [y.id, 1],
    ].sort());

    // Room Y commits as usual meanwhile.
    const pushed = b.next('message');
    const sent = await b.request('message', { room: y.id, text: 'fine here' });
    expect(sent).toMatchObject({ room: y.id, seq: 2, text: 'fine here' });
    expect((await pushed).data).toEqual(sent);

    // Healed, X takes joins again.
    store.heal();
    const c = await TestClient.connect(s.wsUrl);
    const joined = await c.request('join', { room: x.id });
    expect(joined.room.members).toBe(outcome === 'ack' ? 2 : 1);
    await expectNoCrash();
  });

  test('a message that cannot be committed is answered unavailable and not pushed; its retry with the same nonce commits once', async () => {
    const { s, store } = await start();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r' });
    await a.request('join', { room: room.id });
    await b.request('join', { room: room.id });

    store.failWhen(messageOp(room.id, 'doomed'));
    const failed = await a.call('message', { room: room.id, text: 'doomed', nonce: 'n-1' });
    expect(failed.event).toBe('error');
    expect(failed.data.code).toBe('unavailable');
    // The room goes on; the failed message took no seq and reached nobody.
    const after = await b.request('message', { room: room.id, text: 'after' });
    expect(after.seq).toBe(3);
    await a.next('message', (d) => d.seq === after.seq, 0);
    for (const c of [a, b]) expect(c.all('message').map((m) => m.text)).toEqual(['after']);

    store.heal();
    const retried = await a.request('message', { room: room.id, text: 'doomed', nonce: 'n-1' });
    expect(retried).toMatchObject({ room: room.id, seq: 4, text: 'doomed', nonce: 'n-1', user: a.user });
    expect(await a.request('message', { room: room.id, text: 'doomed', nonce: 'n-1' })).toEqual(retried);
    await b.next('message', (d) => d.seq === retried.seq, 0);
    await b.request('chatrooms'); // a round trip later, still one copy
    for (const c of [a, b]) expect(c.all('message').map((m) => m.text)).toEqual(['after', 'doomed']);
    const log = await fullLog(b, room.id);
    expect(log.map((e) => e.seq)).toEqual(range(4));
    expect(log.filter((e) => e.text === 'doomed')).toEqual([retried]);
    await expectNoCrash();
  });

  test('one batch, two rooms: the failing room gets unavailable, the healthy one is acked and pushed', async () => {
    const { s, store } = await start({ ...FAST_SENDER });
    const x1 = await TestClient.connect(s.wsUrl);
    const y1 = await TestClient.connect(s.wsUrl);
    const y2 = await TestClient.connect(s.wsUrl);
    const x = await x1.request('create', { title: 'X' });
    const y = await y1.request('create', { title: 'Y' });
    await x1.request('join', { room: x.id });
    await y1.request('join', { room: y.id });
    await y2.request('join', { room: y.id });

    store.failWhen(messageOp(x.id));
    for (let round = 0; round < 5; round++) {
      // Sent in one turn from two sockets: they reach the server's write batcher together.
      const toX = x1.call('message', { room: x.id, text: `x${round}` });
      const toY = y1.call('message', { room: y.id, text: `y${round}` });
      const [rx, ry] = await Promise.all([toX, toY]);
      expect(rx.event).toBe('error');
      expect(rx.data.code).toBe('unavailable');
      expect(ry.event).toBe('ack');
      expect(ry.data).toMatchObject({ room: y.id, text: `y${round}` });
      expect((await y2.next('message', (d) => d.seq === ry.data.seq, 0)).data).toEqual(ry.data);
    }
    await x1.request('chatrooms');
    expect(x1.all('message')).toEqual([]);
    expect(y2.all('message').map((m) => m.text)).toEqual(range(5).map((i) => `y${i - 1}`));
    // X was only refused, not broken.
    store.heal();
    expect(await x1.request('message', { room: x.id, text: 'healed' })).toMatchObject({ room: x.id, seq: 2 });
    await expectNoCrash();
  });

  test('a kick whose kicked entry cannot be committed leaves the room consistent: in the end the user is out and banned', async () => {
    const { s, store } = await start();
    const owner = await TestClient.connect(s.wsUrl);
    const victim = await TestClient.connect(s.wsUrl);
    const witness = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r' });
    for (const c of [owner, victim, witness]) await c.request('join', { room: room.id });

    store.failWhen(systemOp('kicked'));
    const kicked = victim.next('kicked');
    const outcome = ackOr(await owner.call('kick', { room: room.id, user: victim.user.id }), 'unavailable');
    if (outcome === 'error') {
      // Refused: nothing changed, the victim is still in and not banned.
      expect(await victim.request('message', { room: room.id, text: 'still in' })).toMatchObject({ text: 'still in' });
      expect((await fullLog(witness, room.id)).some((e) => e.kind === 'kicked')).toBe(false);
      expect(victim.all('kicked')).toEqual([]);
      store.heal();
      expect(await owner.request('kick', { room: room.id, user: victim.user.id })).toEqual({});
    }
    expect((await kicked).data).toEqual({ room: room.id });
    await expect(victim.request('message', { room: room.id, text: 'out?' })).rejects.toMatchObject({ code: 'not_joined' });
    await expect(victim.request('join', { room: room.id })).rejects.toMatchObject({ code: 'banned' });
    store.heal();
    await expect(victim.request('join', { room: room.id })).rejects.toMatchObject({ code: 'banned' });
    expect((await witness.request('join', { room: room.id })).members).toEqual([owner.user, witness.user]);
    expect((await owner.request('chatrooms')).rooms[0].members).toBe(2);
    // The server keeps working.
    const sent = await witness.request('message', { room: room.id, text: 'carry on' });
    expect((await owner.next('message', (d) => d.seq === sent.seq, 0)).data).toEqual(sent);
    await expectNoCrash();
  });

  test('left entries that cannot be committed (an explicit leave, a drop past the grace) leave presence consistent', async () => {
    const { s, store } = await start({ presenceGraceMs: 100, sweepMs: 50 });
    const stayer = await TestClient.connect(s.wsUrl);
    const leaver = await TestClient.connect(s.wsUrl);
    const dropper = await TestClient.connect(s.wsUrl);
    const room = await stayer.request('create', { title: 'r' });
    for (const c of [stayer, leaver, dropper]) await c.request('join', { room: room.id });

    store.failWhen(systemOp('left'));
    const outcome = ackOr(await leaver.call('leave', { room: room.id }), 'unavailable');
    if (outcome === 'ack') {
      await expect(leaver.request('message', { room: room.id, text: 'gone?' })).rejects.toMatchObject({ code: 'not_joined' });
    } else {
      expect(await leaver.request('message', { room: room.id, text: 'still in' })).toMatchObject({ text: 'still in' });
    }
    dropper.drop(); // its grace ends, and the sweep's left entry fails
    await sleep(500);
    const sent = await stayer.request('message', { room: room.id, text: 'still serving' });
    expect(sent.room).toBe(room.id);

    store.heal();
    if (outcome === 'error') expect(await leaver.request('leave', { room: room.id })).toEqual({});
    await sleep(300);
    expect((await stayer.request('join', { room: room.id })).members).toEqual([stayer.user]);
    expect((await stayer.request('chatrooms')).rooms[0].members).toBe(1);
    const log = await fullLog(stayer, room.id);
    expect(log.map((e) => e.seq)).toEqual(range(log.length));
    for (const c of [leaver, dropper]) expect(log.filter((e) => e.kind === 'left' && e.user.id === c.user.id).length).toBeLessThanOrEqual(1);
    await expectNoCrash();
  });

  test('a burst of failing appends: every request is answered (ack or unavailable), retries commit once each', async () => {
    const { s, store } = await start({ ...FAST_SENDER });
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r' });
    await a.request('join', { room: room.id });
    await b.request('join', { room: room.id });
    // The joined entries are committed aside: armed before they are in, the faults would hit them.
    await a.next('system', (d) => d.kind === 'joined' && d.user.id === b.user.id, 0);

    store.failAppends(3);
    const send = (i: number) => a.call('message', { room: room.id, text: `m${i}`, nonce: `k${i}` });
    const replies = await Promise.all(range(8).map(send));
    const failed = range(8).filter((i) => ackOr(replies[i - 1], 'unavailable') === 'error');
    const seqs = replies.filter((f) => f.event === 'ack').map((f) => f.data.seq as number);
    store.heal();
    for (const i of failed) {
      const retried = await send(i);
      expect(retried.event).toBe('ack');
      seqs.push(retried.data.seq);
    }
    const texts = range(8).map((i) => `m${i}`).sort();
    // Seqs 3.. (after the two joins), no gap: failed attempts used none.
    expect([...seqs].sort((x, y) => x - y)).toEqual(range(10).slice(2));
    await b.waitFor((f) => f.event === 'message' && f.data.seq === 10, 0);
    await b.request('chatrooms');
    expect(b.all('message').map((m) => m.text).sort()).toEqual(texts);
    const log = await fullLog(a, room.id);
    expect(log.map((e) => e.seq)).toEqual(range(10));
    expect(log.filter((e) => e.text).map((e) => e.text).sort()).toEqual(texts);
    await expectNoCrash();
  });
});
