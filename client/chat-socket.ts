import type { ClientErrorCode } from './errors.js';

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

/**
 * The browser's own WebSocket speaking the gif-chat protocol: requests with ids and
 * promised replies, pushes to listeners, and reconnection with exponential backoff and
 * full jitter. Pages listen for `welcome` to (re)join after every connect.
 */
export class ChatSocket {
  state: ConnState = 'offline';
  private ws: WebSocket | undefined;
  private nextId = 1;
  private attempt = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: RequestError) => void }>();
  private readonly listeners = new Map<string, Set<Listener>>();

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

  /** Sends a request and resolves with its ack's data; rejects with RequestError. */
  request<T = any>(event: string, data?: unknown): Promise<T> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new RequestError('offline', 'You are offline.'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ event, id, data }));
    });
  }

  /** Sends an event that wants no reply; dropped while offline. */
  send(event: string, data?: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ event, data }));
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
      if (typeof frame.event === 'string') this.emit(frame.event, frame.data);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
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
