import type { ClientErrorCode } from './errors.js';
import { Pacer } from './pacing.js';
import type { Welcome } from './protocol.js';

/** Connection states shown to the person. */
export type ConnState = 'connecting' | 'online' | 'offline';

/**
 * A refused request: the server's error code and message, or `offline` when the socket
 * dropped. Pages decide by `code` (errors.ts); the message is the server's, for people.
 */
export class RequestError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type Listener = (data: any) => void;

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

/** Until `welcome` says the socket's limits: a modest pace. */
const DEFAULT_RATE = { ratePerSec: 5, rateBurst: 5 };

/**
 * The browser's own WebSocket speaking the gif-chat protocol: requests with ids and
 * promised replies, pushes to listeners, and reconnection with exponential backoff and
 * full jitter. Pages listen for `welcome` to (re)join after every connect.
 *
 * Frames are paced by `welcome.limits` (pacing.ts): requests wait their turn in order, so
 * the client never trips the server's rate limit by itself.
 */
export class ChatSocket {
  state: ConnState = 'offline';
  private ws: WebSocket | undefined;
  private nextId = 1;
  private attempt = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: RequestError) => void }>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private pacer = new Pacer(DEFAULT_RATE.ratePerSec, DEFAULT_RATE.rateBurst, Date.now());
  /** Frames waiting for the pace, oldest first. */
  private queue: { id: number; text: string }[] = [];
  private drainTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`) {}

  /** Opens the socket (and keeps reopening it after drops). */
  start(): void {
    this.connect();
  }

  /** Calls `fn` with the data of every push of `event` (and `state` for connection changes). */
  on(event: string, fn: Listener): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
  }

  /** Sends a request (when the pace allows) and resolves with its ack's data; rejects with RequestError. */
  request<T = any>(event: string, data?: unknown): Promise<T> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new RequestError('offline', 'You are offline.'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ id, text: JSON.stringify({ event, id, data }) });
      this.drain();
    });
  }

  /** Sends an event that wants no reply, now or never: dropped while offline or while frames wait for the pace. */
  send(event: string, data?: unknown): void {
    if (this.ws?.readyState !== WebSocket.OPEN || this.queue.length > 0 || !this.pacer.take(Date.now())) return;
    this.ws.send(JSON.stringify({ event, data }));
  }

  /** Sends the waiting frames the pace allows, and wakes up again for the rest. */
  private drain(): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    while (this.queue.length > 0) {
      const now = Date.now();
      const wait = this.pacer.wait(now);
      if (wait > 0) {
        this.drainTimer = setTimeout(() => this.drain(), wait);
        return;
      }
      this.pacer.take(now);
      ws.send(this.queue.shift()!.text);
    }
  }

  private emit(event: string, data: unknown): void {
    for (const fn of this.listeners.get(event) ?? []) fn(data);
  }

  private setState(state: ConnState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private connect(): void {
    this.setState('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.attempt = 0;
      // A new socket: the server's bucket starts full; so does ours, at the default pace until `welcome`.
      this.pacer = new Pacer(DEFAULT_RATE.ratePerSec, DEFAULT_RATE.rateBurst, Date.now());
      this.setState('online');
    });
    ws.addEventListener('message', (event) => {
      let frame: { event?: string; id?: number; data?: any };
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (frame.id !== undefined && (frame.event === 'ack' || frame.event === 'error')) {
        const waiter = this.pending.get(frame.id);
        this.pending.delete(frame.id);
        if (!waiter) return;
        if (frame.event === 'ack') waiter.resolve(frame.data);
        else waiter.reject(new RequestError(typeof frame.data?.code === 'string' ? frame.data.code : 'internal', frame.data?.message ?? 'Request failed.'));
        return;
      }
      if (frame.event === 'welcome') {
        const limits = (frame.data as Welcome | undefined)?.limits;
        if (limits && limits.ratePerSec > 0 && limits.rateBurst > 0) this.pacer = new Pacer(limits.ratePerSec, limits.rateBurst, Date.now());
      }
      if (typeof frame.event === 'string') this.emit(frame.event, frame.data);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      clearTimeout(this.drainTimer);
      this.queue = [];
      for (const waiter of this.pending.values()) waiter.reject(new RequestError('offline', 'The connection dropped.'));
      this.pending.clear();
      this.setState('offline');
      // Full jitter: a crowd that dropped together does not come back together.
      const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt++);
      setTimeout(() => this.connect(), 100 + Math.random() * cap);
    });
  }
}

/** Shows the connection state in the page header. */
export function showState(socket: ChatSocket): void {
  const badge = document.getElementById('conn-state');
  if (!badge) return;
  const labels: Record<ConnState, string> = { connecting: 'Connecting…', online: 'Online', offline: 'Offline, reconnecting…' };
  const render = (state: ConnState) => {
    badge.dataset.state = state;
    badge.textContent = labels[state];
  };
  render(socket.state);
  socket.on('state', render);
}
