/**
 * The comparison peer: a Socket.IO 4 server doing the same chat work as gif-chat
 * (rooms, join with history, messages stored through the same store and write batcher
 * before they are emitted with io.to(room).emit and acked), on the websocket transport
 * only. Not part of the product; used by the benchmark harness.
 *
 * By default one process on SQLite, as gif-chat by default. Its cluster deployment, as
 * gif-chat's WORKERS: WORKERS=N forks N node:cluster workers sharing the port (the primary
 * hands out the connections), DATABASE_URL selects the same PostgreSQL store as gif-chat's,
 * and REDIS_URL joins the processes through @socket.io/redis-adapter (one node-redis client
 * and its duplicate for the subscriptions) and keeps each room's members in a Redis hash,
 * so that a join returns every member whatever process they are on, as gif-chat's does.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import path from 'node:path';
import { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { silentLogger } from '../../src/logger';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { Store } from '../../src/store/store';
import { WriteBatcher } from '../../src/store/write-batcher';

type User = { id: string; name: string; color: string };

/** Who is in each room, returned by join as gif-chat's join returns its members. */
interface Members {
  add(room: string, user: User): Promise<void>;
  remove(room: string, id: string): Promise<void>;
  list(room: string): Promise<User[]>;
}

function localMembers(): Members {
  const rooms = new Map<string, Map<string, User>>();
  const of = (room: string) => rooms.get(room) ?? rooms.set(room, new Map()).get(room)!;
  return {
    add: async (room, user) => void of(room).set(user.id, user),
    remove: async (room, id) => void of(room).delete(id),
    list: async (room) => [...of(room).values()],
  };
}

/** The hash commands the members need (a node-redis client). */
interface RedisHashes {
  hSet(key: string, field: string, value: string): Promise<unknown>;
  hDel(key: string, field: string): Promise<unknown>;
  hGetAll(key: string): Promise<Record<string, string>>;
}

function redisMembers(redis: RedisHashes): Members {
  const key = (room: string) => `sio:members:${room}`;
  return {
    add: async (room, user) => void (await redis.hSet(key(room), user.id, JSON.stringify(user))),
    remove: async (room, id) => void (await redis.hDel(key(room), id)),
    list: async (room) => Object.values(await redis.hGetAll(key(room))).map((json) => JSON.parse(json) as User),
  };
}

async function serve(): Promise<void> {
  const dataDir = process.env.DATA_DIR ?? './data-socketio';
  // The PostgreSQL and Redis client libraries are loaded only when asked for, as gif-chat loads them.
  const store: Store = process.env.DATABASE_URL
    ? await (await import('../../src/store/pg-store')).openPgStore(process.env.DATABASE_URL, { logger: silentLogger })
    : openSqliteStore(path.join(dataDir, 'socketio.db'));
  const batcher = new WriteBatcher(store, silentLogger);
  /** Rooms known to exist here (the store allocates their seqs; another process may have created one). */
  const known = new Set<string>();
  const exists = async (room: unknown) => typeof room === 'string' && (known.has(room) || ((await store.room(room)) !== undefined && known.add(room) !== undefined));

  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 64 * 1024 });
  let redis: { quit(): Promise<unknown> }[] = [];
  let members = localMembers();
  if (process.env.REDIS_URL) {
    const [{ createClient }, { createAdapter }] = await Promise.all([import('redis'), import('@socket.io/redis-adapter')]);
    const pub = createClient({ url: process.env.REDIS_URL });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    redis = [pub, sub];
    io.adapter(createAdapter(pub, sub));
    members = redisMembers(pub);
  }
  type Ack = (reply: unknown) => void;
  /** A handler whose failure (the store unavailable: PostgreSQL's pool busy past its timeout) is acked as an error, as gif-chat's are. */
  const guarded =
    <T>(handler: (data: T, ack: Ack) => Promise<unknown>) =>
    (data: T, ack: Ack) =>
      handler(data, ack).catch((err: { code?: string }) => ack?.({ error: err?.code ?? 'internal' }));

  io.on('connection', (socket) => {
    const user = { id: socket.id, name: `guest-${socket.id.slice(0, 6)}`, color: '#2980b9' };
    socket.on('create', guarded(async (data: { title: string; max?: number }, ack: Ack) => {
      const id = `r_${Math.random().toString(36).slice(2, 12)}`;
      await store.createRoom({ id, title: String(data?.title), max: Number(data?.max ?? 10), passwordHash: null, owner: user, createdAt: Date.now() });
      known.add(id);
      ack?.({ id });
    }));
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
        if (!known.has(room)) continue;
        void members.remove(room, user.id).catch(() => {});
        announce(room, 'left');
      }
    });
    socket.on('join', guarded(async (data: { room: string; since?: number }, ack: Ack) => {
      if (!(await exists(data?.room))) return ack?.({ error: 'not_found' });
      if (!socket.rooms.has(data.room)) announce(data.room, 'joined');
      await socket.join(data.room);
      await members.add(data.room, user);
      const history = data.since === undefined ? await store.entriesBefore(data.room, undefined, 50) : await store.entriesAfter(data.room, data.since, 1000);
      // The same reply as gif-chat's join: the room, its members, and its history with system entries.
      ack?.({ room: { id: data.room }, members: await members.list(data.room), history });
    }));
    socket.on('message', (data: { room: string; text: string }, ack: Ack) => {
      const room = data?.room;
      if (typeof data?.text !== 'string' || !known.has(room) || !socket.rooms.has(room)) return ack?.({ error: 'not_joined' });
      batcher
        .append({ entry: { room, user, text: data.text, ts: Date.now() } }, (result) => {
          if ('entry' in result) io.to(room).emit('message', result.entry);
        })
        .then(
          (result) => ack?.('entry' in result ? result.entry : { error: 'not_found' }),
          () => ack?.({ error: 'internal' }),
        );
    });
    socket.on('history', guarded(async (data: { room: string; limit?: number }, ack: Ack) => {
      if (!socket.rooms.has(data?.room)) return ack?.({ error: 'not_joined' });
      ack?.(await store.entriesBefore(data.room, undefined, Math.min(100, data.limit ?? 50)));
    }));
  });

  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    console.log(`socket.io peer ${process.pid} listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  const stop = () => {
    io.close();
    void batcher
      .drain()
      .then(() => store.close())
      .then(() => Promise.all(redis.map((c) => c.quit().catch(() => {}))))
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const workers = Number(process.env.WORKERS ?? 1);
if (workers > 1 && cluster.isPrimary) {
  // As gif-chat's primary: fork the workers (they share the port), stop them all on a signal.
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    const all = Object.values(cluster.workers ?? {});
    let left = all.length;
    if (left === 0) process.exit(0);
    for (const worker of all) {
      worker!.once('exit', () => --left === 0 && process.exit(0));
      worker!.process.kill('SIGTERM');
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  serve().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
