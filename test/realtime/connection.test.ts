import http from 'node:http';
import { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { encodeEntry, encodePush, Entry } from '../../src/protocol';
import { Connection, ConnectionOptions } from '../../src/realtime/connection';
import { Flusher } from '../../src/realtime/flusher';
import { Push } from '../../src/realtime/push';
import { TokenBucket } from '../../src/realtime/token-bucket';

const user = { id: 'u_1', name: 'One', color: '#123456' };
const other = { id: 'u_2', name: 'Two', color: '#654321' };
const entry = (seq: number): Entry => ({ room: 'r', seq, user: other, text: `m${seq}`, ts: seq });
const push = (seq: number): Push => ({ frame: encodeEntry('message', entry(seq)), seq });

/** A real socket pair: the server side wrapped in a Connection, the client side recording what it receives. */
async function pair(outboxLimit = 1024 * 1024) {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<{ ws: WebSocket; socket: Duplex }>((resolve) =>
    wss.once('connection', (ws, req) => resolve({ ws, socket: req.socket })),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  client.on('error', () => {});
  const got: any[] = [];
  client.on('message', (raw) => got.push(JSON.parse(raw.toString())));
  await new Promise((resolve) => client.once('open', resolve));
  const { ws, socket } = await accepted;
  ws.on('error', () => {});
  const options: ConnectionOptions = { outboxLimit, rateLimit: new TokenBucket(20, 40), stats: { framesIn: 0, framesOut: 0, slowConsumers: 0 }, flusher: new Flusher() };
  const conn = new Connection(ws, socket, { info: user }, { node: 'n', socket: '1' }, undefined, options);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
  const close = async () => {
    client.terminate();
    wss.close();
    await new Promise((resolve) => server.close(resolve));
  };
  return { conn, client, got, settle, close, options };
}

describe('connection: room feeds, order, outbox', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  test('a pending feed holds pushes; settling sends those above the history floor, then goes live without repeats', async () => {
    const p = await pair();
    cleanup = p.close;
    p.conn.beginFeed('r');
    for (const seq of [4, 5, 6]) p.conn.deliver('r', push(seq));
    p.conn.deliver('r', { frame: encodePush('typing', { room: 'r', user: other }) }); // no seq: always sent
    await p.settle();
    expect(p.got).toEqual([]); // held while the join reads history
    p.conn.settleFeed('r', 5, false); // the history held up to 5
    for (const seq of [6, 7, 3]) p.conn.deliver('r', push(seq)); // 6 again, and an old one
    await p.settle();
    expect(p.got.map((f) => f.data.seq ?? f.event)).toEqual([6, 'typing', 7]);
  });

  test('a feed settled as behind drops pushes until the next join', async () => {
    const p = await pair();
    cleanup = p.close;
    p.conn.beginFeed('r');
    p.conn.settleFeed('r', 10, true);
    p.conn.deliver('r', push(11));
    await p.settle();
    expect(p.got).toEqual([]);
    p.conn.beginFeed('r');
    p.conn.settleFeed('r', 11, false);
    p.conn.deliver('r', push(12));
    await p.settle();
    expect(p.got.map((f) => f.data.seq)).toEqual([12]);
  });

  test('pushes for rooms it is not in, or meant for everyone but its user, are not sent', async () => {
    const p = await pair();
    cleanup = p.close;
    p.conn.beginFeed('r');
    p.conn.settleFeed('r', 0, false);
    p.conn.deliver('elsewhere', push(1));
    p.conn.deliver('r', { frame: encodePush('typing', { room: 'r', user }), exceptUser: user.id });
    p.conn.dropFeed('r');
    p.conn.deliver('r', push(1));
    await p.settle();
    expect(p.got).toEqual([]);
    expect(p.conn.inRoom('r')).toBe(false);
  });

  test('what one turn queues leaves together, in queue order, acks included', async () => {
    const p = await pair();
    cleanup = p.close;
    p.conn.beginFeed('r');
    p.conn.settleFeed('r', 0, false);
    p.conn.deliver('r', push(1));
    p.conn.deliver('r', push(2));
    p.conn.reply(7, { ok: true });
    await p.settle();
    expect(p.got.map((f) => f.event)).toEqual(['message', 'message', 'ack']);
    expect(p.options.stats.framesOut).toBe(3);
  });

  test('a reader past OUTBOX_LIMIT is cut off; a socket that is not open gets nothing', async () => {
    const p = await pair(16 * 1024);
    cleanup = p.close;
    (p.client as any)._socket.pause();
    p.conn.beginFeed('r');
    p.conn.settleFeed('r', 0, false);
    const big = encodePush('x', { text: 'y'.repeat(64 * 1024) });
    for (let i = 0; i < 200 && p.conn.ws.readyState === WebSocket.OPEN; i++) {
      p.conn.send(big);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(p.options.stats.slowConsumers).toBe(1);
    const sent = p.options.stats.framesOut;
    p.conn.send(big);
    expect(p.options.stats.framesOut).toBe(sent);
  });
});
