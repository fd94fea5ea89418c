/**
 * The comparison peer: a Socket.IO 4 server doing the same chat work as gif-chat
 * (rooms, join with history, messages stored through the same SQLite store and
 * write batcher before they are emitted with io.to(room).emit and acked), on the
 * websocket transport only. Not part of the product; used by the benchmark harness.
 */
import http from 'node:http';
import path from 'node:path';
import { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { silentLogger } from '../../src/logger';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { WriteBatcher } from '../../src/store/write-batcher';

const dataDir = process.env.DATA_DIR ?? './data-socketio';
const store = openSqliteStore(path.join(dataDir, 'socketio.db'));
const batcher = new WriteBatcher(store, silentLogger);
/** Rooms that exist (the store allocates their seqs). */
const seqs = new Map<string, number>();
/** Who is in each room, returned by join as gif-chat's join returns its members. */
const members = new Map<string, Map<string, { id: string; name: string; color: string }>>();

const server = http.createServer();
const io = new Server(server, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 64 * 1024 });
type Ack = (reply: unknown) => void;

io.on('connection', (socket) => {
  const user = { id: socket.id, name: `guest-${socket.id.slice(0, 6)}`, color: '#2980b9' };
  socket.on('create', async (data: { title: string; max?: number }, ack: Ack) => {
    const id = `r_${Math.random().toString(36).slice(2, 12)}`;
    await store.createRoom({ id, title: String(data?.title), max: Number(data?.max ?? 10), passwordHash: null, owner: user, createdAt: Date.now() });
    seqs.set(id, 0);
    members.set(id, new Map());
    ack?.({ id });
  });
  // Joins and leaves are announced to the room and stored, as gif-chat's system entries are
  // (the textbook's "X joined" messages), so both servers do the same work per join.
  const announce = (room: string, kind: 'joined' | 'left') => {
    void batcher
      .append({ entry: { room, kind, user, ts: Date.now() } }, (result) => {
        if ('entry' in result) io.to(room).emit('system', result.entry);
      })
      .catch(() => {});
  };
  socket.on('disconnecting', () => {
    for (const room of socket.rooms) {
      if (!seqs.has(room)) continue;
      members.get(room)!.delete(user.id);
      announce(room, 'left');
    }
  });
  socket.on('join', async (data: { room: string; since?: number }, ack: Ack) => {
    if (!seqs.has(data?.room)) return ack?.({ error: 'not_found' });
    if (!socket.rooms.has(data.room)) announce(data.room, 'joined');
    await socket.join(data.room);
    members.get(data.room)!.set(user.id, user);
    const history = data.since === undefined ? await store.entriesBefore(data.room, undefined, 50) : await store.entriesAfter(data.room, data.since, 1000);
    // The same reply as gif-chat's join: the room, its members, and its history with system entries.
    ack?.({ room: { id: data.room }, members: [...members.get(data.room)!.values()], history });
  });
  socket.on('message', (data: { room: string; text: string }, ack: Ack) => {
    const room = data?.room;
    if (typeof data?.text !== 'string' || !seqs.has(room) || !socket.rooms.has(room)) return ack?.({ error: 'not_joined' });
    batcher
      .append({ entry: { room, user, text: data.text, ts: Date.now() } }, (result) => {
        if ('entry' in result) io.to(room).emit('message', result.entry);
      })
      .then(
        (result) => ack?.('entry' in result ? result.entry : { error: 'not_found' }),
        () => ack?.({ error: 'internal' }),
      );
  });
  socket.on('history', async (data: { room: string; limit?: number }, ack: Ack) => {
    if (!socket.rooms.has(data?.room)) return ack?.({ error: 'not_joined' });
    ack?.(await store.entriesBefore(data.room, undefined, Math.min(100, data.limit ?? 50)));
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`socket.io peer listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
const stop = () => {
  io.close();
  void batcher.drain().then(() => store.close()).then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
