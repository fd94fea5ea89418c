import { io as ioClient, Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';

/** Which server a client talks to. */
export type ServerKind = 'gif-chat' | 'socket.io' | 'bare-ws';

/** A received room message: its room seq (0 when the server has none) and text. */
export type EntryListener = (seq: number, text: string) => void;

/** One load-generating client, the same shape for every server kind. */
export interface BenchClient {
  /** Joins a room; resolves with the seqs of the history it returned (resume with `since`). */
  join(room: string, since?: number): Promise<number[]>;
  /** Sends a message and resolves on its ack. */
  send(room: string, text: string): Promise<number>;
  /** One request/ack round trip (`history` of 20 entries; a bare echo for bare ws). */
  request(room: string): Promise<void>;
  /** Creates a room (setup only). */
  create(title: string, max: number): Promise<string>;
  onEntry: EntryListener;
  /** Stops reading from the socket (a member that stopped reading). */
  pause(): void;
  /** Drops the TCP connection without a close handshake. */
  drop(): void;
  close(): void;
  readonly closed: Promise<void>;
}

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

const MESSAGE_PREFIX = '{"event":"message","data":{';
const LOBBY_PREFIX = Buffer.from('{"event":"room');
const SYSTEM_PREFIX = Buffer.from('{"event":"system"');
const startsWith = (raw: Buffer, prefix: Buffer) => raw.length >= prefix.length && raw.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;

function gifChat(url: string): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    // The server is trusted here: skipping UTF-8 validation keeps the load generator's cost down.
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    let nextId = 1;
    const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
    let ready = false;
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    const call = (event: string, data: unknown): Promise<any> =>
      new Promise((res, rej) => {
        if (ws.readyState !== WebSocket.OPEN) return rej(new Error('closed'));
        const id = nextId++;
        pending.set(id, { resolve: res, reject: rej });
        ws.send(JSON.stringify({ event, id, data }));
      });
    const client: BenchClient = {
      onEntry: () => {},
      join: async (room, since) => ((await call('join', since === undefined ? { room } : { room, since })).history as { seq: number; text?: string }[]).filter((e) => e.text !== undefined).map((e) => e.seq),
      send: async (room, text) => (await call('message', { room, text })).seq,
      request: async (room) => void (await call('history', { room, limit: 20 })),
      create: async (title, max) => (await call('create', { title, max })).id,
      pause: () => (ws as unknown as { _socket: { pause(): void } })._socket.pause(),
      drop: () => ws.terminate(),
      close: () => ws.close(),
      closed,
    };
    ws.on('error', (err) => {
      if (!ready) reject(err);
    });
    ws.on('close', () => {
      for (const p of pending.values()) p.reject(new Error('closed'));
      pending.clear();
    });
    ws.on('message', (raw: Buffer) => {
      // Lobby pushes and system entries (joined/left): no scenario measures them, so skip them
      // before turning the bytes into a string (a join storm's lobby batches are megabytes).
      if (startsWith(raw, LOBBY_PREFIX) || startsWith(raw, SYSTEM_PREFIX)) return;
      const text = raw.toString();
      // Pushed messages are the bulk: read seq and the start of text without a full parse,
      // so the load generator, not the server, does less work per delivery.
      if (text.startsWith(MESSAGE_PREFIX)) {
        const seqAt = text.indexOf('"seq":') + 6;
        const textAt = text.indexOf('"text":"') + 8;
        return client.onEntry(Number(text.slice(seqAt, text.indexOf(',', seqAt))), textAt > 7 ? text.slice(textAt, textAt + 32) : '');
      }
      const frame = JSON.parse(text);
      if (frame.id !== undefined) {
        const p = pending.get(frame.id);
        pending.delete(frame.id);
        if (frame.event === 'ack') p?.resolve(frame.data);
        else p?.reject(new Error(`${frame.data.code}: ${frame.data.message}`));
        return;
      }
      if (frame.event === 'welcome') {
        ready = true;
        resolve(client);
      }
    });
  });
}

function socketIo(url: string): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const socket: IoSocket = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60_000 });
    const closed = new Promise<void>((r) => socket.once('disconnect', () => r()));
    const call = (event: string, data: unknown): Promise<any> =>
      new Promise((res, rej) => {
        if (!socket.connected) return rej(new Error('closed'));
        socket.emit(event, data, (reply: any) => (reply?.error ? rej(new Error(reply.error)) : res(reply)));
      });
    const client: BenchClient = {
      onEntry: () => {},
      join: async (room, since) => ((await call('join', { room, since })).history as { seq: number; text?: string }[]).filter((e) => e.text !== undefined).map((e) => e.seq),
      send: async (room, text) => (await call('message', { room, text })).seq,
      request: async (room) => void (await call('history', { room, limit: 20 })),
      create: async (title, max) => (await call('create', { title, max })).id,
      pause: () => ((socket.io.engine as any).transport.ws._socket as { pause(): void }).pause(),
      drop: () => ((socket.io.engine as any).transport.ws as WebSocket).terminate?.() ?? socket.io.engine.close(),
      close: () => socket.close(),
      closed,
    };
    socket.on('message', (entry: { seq: number; text: string }) => client.onEntry(entry.seq, entry.text));
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', reject);
  });
}

function bareWs(url: string): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    let nextId = 1;
    const acks = new Map<string, () => void>();
    let joinWaiter: (() => void) | undefined;
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    const client: BenchClient = {
      onEntry: () => {},
      join: (room) =>
        new Promise((res) => {
          joinWaiter = () => res([]);
          ws.send(`J${room}`);
        }),
      send: (room, text) =>
        new Promise((res) => {
          const id = String(nextId++);
          acks.set(id, () => res(0));
          ws.send(`M${room}\t${id}\t${text}`);
        }),
      request: () =>
        new Promise((res) => {
          const id = String(nextId++);
          acks.set(id, res);
          ws.send(`R${id}`);
        }),
      create: async (title) => title,
      pause: () => (ws as unknown as { _socket: { pause(): void } })._socket.pause(),
      drop: () => ws.terminate(),
      close: () => ws.close(),
      closed,
    };
    ws.on('error', reject);
    ws.on('open', () => resolve(client));
    ws.on('message', (raw) => {
      const text = raw.toString();
      if (text[0] === 'A') {
        const id = text.slice(1);
        acks.get(id)?.();
        acks.delete(id);
      } else if (text === 'J') {
        joinWaiter?.();
      } else {
        client.onEntry(0, text);
      }
    });
  });
}

/** Connects one client of the given kind. */
export function connectClient(kind: ServerKind, url: string): Promise<BenchClient> {
  if (kind === 'gif-chat') return gifChat(url.replace(/^http/, 'ws'));
  if (kind === 'socket.io') return socketIo(url);
  return bareWs(url.replace(/^http/, 'ws'));
}
