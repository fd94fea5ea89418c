import { io as ioClient, Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';

/** The protocol a client speaks. */
export type Protocol = 'gif-chat' | 'socket.io' | 'bare-ws';

/**
 * Which server runs: a protocol, or one of its deployments on the shared services
 * (bench/services.ts):
 * - `gif-chat-pg`: one gif-chat process on PostgreSQL (DATABASE_URL), in-process bus;
 * - `gif-chat-cluster`: gif-chat with WORKERS=2 on PostgreSQL and Redis (DATABASE_URL, REDIS_URL);
 * - `socket.io-cluster`: the Socket.IO peer as 2 node:cluster workers on one port, with
 *   @socket.io/redis-adapter and the PostgreSQL store.
 */
export type ServerKind = Protocol | 'gif-chat-pg' | 'gif-chat-cluster' | 'socket.io-cluster';

/** The protocol a server kind speaks. */
export function protocolOf(kind: ServerKind): Protocol {
  if (kind === 'gif-chat-pg' || kind === 'gif-chat-cluster') return 'gif-chat';
  if (kind === 'socket.io-cluster') return 'socket.io';
  return kind;
}

/**
 * A received room message: its room seq (0 when the server has none), the send time
 * stamped at the start of its text (NaN when the text carries none) and the server
 * process the sender was connected to, stamped after it (-1 when the text carries none).
 */
export type EntryListener = (seq: number, sentAt: number, origin: number) => void;

/** One load-generating client, the same shape for every server kind. */
export interface BenchClient {
  /** Joins a room; resolves with the seqs of the history it returned (resume with `since`). */
  join(room: string, since?: number): Promise<number[]>;
  /** Sends a message (with a nonce when given: gif-chat only) and resolves on its ack. */
  send(room: string, text: string, nonce?: string): Promise<number>;
  /** One request/ack round trip (`history` of 20 entries; a bare echo for bare ws). */
  request(room: string): Promise<void>;
  /** Creates a room (setup only). */
  create(title: string, max: number): Promise<string>;
  onEntry: EntryListener;
  /** Stops reading from the socket (a member that stopped reading). */
  pause(): void;
  /** Drops the TCP connection without a close handshake. */
  drop(): void;
  /** The client end's TCP port (which server process holds the other end: see proc-stats socketOwners). */
  localPort(): number;
  close(): void;
  readonly closed: Promise<void>;
}

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

const MESSAGE_PREFIX = Buffer.from('{"event":"message","data":{');
const LOBBY_PREFIX = Buffer.from('{"event":"room');
const SYSTEM_PREFIX = Buffer.from('{"event":"system"');
const SEQ_KEY = Buffer.from('"seq":');
const TEXT_KEY = Buffer.from('"text":"');
const BAR = 0x7c;
const COMMA = 0x2c;

// Receipts are the load generators' bulk work: they are read from the bytes with plain
// loops (no string, no native call per receipt), so the generators sharing the cores take
// as little as they can from the server under test.

/** True when `raw` holds `prefix` at `at`. */
function hasAt(raw: Buffer, prefix: Buffer, at: number): boolean {
  if (raw.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (raw[at + i] !== prefix[i]) return false;
  return true;
}

/** Where `key` starts in `raw` at or after `from`, or -1. */
function find(raw: Buffer, key: Buffer, from: number): number {
  const last = raw.length - key.length;
  for (let at = from; at <= last; at++) if (raw[at] === key[0] && hasAt(raw, key, at)) return at;
  return -1;
}

const isDigit = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x39;

/** The decimal number at `at` (digits, an optional fraction), or NaN unless the byte `end` follows it. */
function numberAt(raw: Buffer, at: number, end: number): number {
  let value = 0;
  let i = at;
  for (; isDigit(raw[i]); i++) value = value * 10 + raw[i] - 0x30;
  if (i === at) return NaN;
  if (raw[i] === 0x2e) {
    let scale = 1;
    for (i++; isDigit(raw[i]); i++) value += (raw[i] - 0x30) * (scale /= 10);
  }
  return raw[i] === end ? value : NaN;
}

/**
 * The origin stamped after the send time: the text goes on `|<digit>|` past the bar that
 * ends the stamp at `at` (see worker.ts payload), else -1.
 */
function originAt(raw: Buffer, at: number): number {
  let i = at;
  while (i < at + 32 && i < raw.length && raw[i] !== BAR) i++;
  return raw[i] === BAR && isDigit(raw[i + 1]) && raw[i + 2] === BAR ? raw[i + 1] - 0x30 : -1;
}

/** The send time a text starts with, or NaN (for clients handed strings). */
function stampOf(text: string): number {
  const bar = text.indexOf('|');
  return bar > 0 ? Number(text.slice(0, bar)) : NaN;
}

/** The origin stamped after the send time in a string, or -1. */
function originOf(text: string): number {
  const bar = text.indexOf('|');
  const digit = text.charCodeAt(bar + 1);
  return bar > 0 && isDigit(digit) && text[bar + 2] === '|' ? digit - 0x30 : -1;
}

function gifChat(url: string, forwardedFor?: string): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    // The server is trusted here: skipping UTF-8 validation keeps the load generator's cost down.
    const headers = forwardedFor ? { 'x-forwarded-for': forwardedFor } : undefined;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, headers });
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
      send: async (room, text, nonce) => (await call('message', nonce === undefined ? { room, text } : { room, text, nonce })).seq,
      request: async (room) => void (await call('history', { room, limit: 20 })),
      create: async (title, max) => (await call('create', { title, max })).id,
      pause: () => (ws as unknown as { _socket: { pause(): void } })._socket.pause(),
      drop: () => ws.terminate(),
      localPort: () => (ws as unknown as { _socket: { localPort: number } })._socket.localPort,
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
      // Pushed messages are the bulk: read seq and the text's stamp without a parse.
      if (hasAt(raw, MESSAGE_PREFIX, 0)) {
        const seqAt = find(raw, SEQ_KEY, MESSAGE_PREFIX.length);
        const textAt = find(raw, TEXT_KEY, seqAt);
        const stampAt = textAt + TEXT_KEY.length;
        return client.onEntry(numberAt(raw, seqAt + SEQ_KEY.length, COMMA), textAt < 0 ? NaN : numberAt(raw, stampAt, BAR), textAt < 0 ? -1 : originAt(raw, stampAt));
      }
      // Lobby pushes and system entries (joined/left): no scenario measures them, so skip them
      // before turning the bytes into a string (a join storm's lobby batches are megabytes).
      if (hasAt(raw, LOBBY_PREFIX, 0) || hasAt(raw, SYSTEM_PREFIX, 0)) return;
      const text = raw.toString();
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
      localPort: () => ((socket.io.engine as any).transport.ws._socket as { localPort: number }).localPort,
      close: () => socket.close(),
      closed,
    };
    socket.on('message', (entry: { seq: number; text: string }) => client.onEntry(entry.seq, stampOf(entry.text), originOf(entry.text)));
    socket.once('connect', () => resolve(client));
    // engine.io's "websocket error" carries the cause (ECONNREFUSED, a status code) in `description`.
    socket.once('connect_error', (err: Error & { description?: unknown }) =>
      reject(new Error(`${err.message}${err.description ? `: ${(err.description as Error).message ?? String(err.description)}` : ''}`)),
    );
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
      localPort: () => (ws as unknown as { _socket: { localPort: number } })._socket.localPort,
      close: () => ws.close(),
      closed,
    };
    ws.on('error', reject);
    ws.on('open', () => resolve(client));
    ws.on('message', (raw: Buffer) => {
      if (raw[0] === 0x41) {
        const id = raw.toString('latin1', 1);
        acks.get(id)?.();
        acks.delete(id);
      } else if (raw.length === 1 && raw[0] === 0x4a) {
        joinWaiter?.();
      } else {
        client.onEntry(0, numberAt(raw, 0, BAR), originAt(raw, 0));
      }
    });
  });
}

/** Connects one client of the given kind. */
/** A client of the server; `forwardedFor` (gif-chat behind TRUST_PROXY) stands for the address it comes from. */
export function connectClient(kind: ServerKind, url: string, forwardedFor?: string): Promise<BenchClient> {
  const protocol = protocolOf(kind);
  if (protocol === 'gif-chat') return gifChat(url.replace(/^http/, 'ws'), forwardedFor);
  if (protocol === 'socket.io') return socketIo(url);
  return bareWs(url.replace(/^http/, 'ws'));
}
