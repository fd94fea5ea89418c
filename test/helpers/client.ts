import WebSocket from 'ws';

/** A frame as the server sends it. */
export interface Frame {
  event: string;
  data?: any;
  id?: number;
}

/** The error a request was answered with. */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

const open = new Set<TestClient>();

/**
 * A real `ws` client that records every frame it receives, with helpers to send
 * requests and wait for pushes. Every client is closed after each test.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  private nextId = 1;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void; from: number }[] = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    open.add(this);
    ws.on('error', () => {});
    ws.on('message', (raw, isBinary) => {
      const frame = JSON.parse(isBinary ? '{}' : raw.toString()) as Frame;
      this.frames.push(frame);
      const index = this.frames.length - 1;
      this.waiters = this.waiters.filter((w) => {
        if (index >= w.from && w.match(frame)) {
          w.resolve(frame);
          return false;
        }
        return true;
      });
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.closed.then(() => open.delete(this));
  }

  /** Connects and waits for `welcome`. */
  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const client = new TestClient(new WebSocket(url, options));
    await client.next('welcome');
    return client;
  }

  /** The user from `welcome`. */
  get user(): { id: string; name: string; color: string } {
    return this.frames.find((f) => f.event === 'welcome')!.data.user;
  }

  /** Sends a raw frame (string or bytes) as it is. */
  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.ws.send(data, options);
  }

  /** Sends a request with a fresh id; resolves with the ack's data, rejects with RequestError. */
  async request(event: string, data?: unknown): Promise<any> {
    const reply = await this.call(event, data);
    if (reply.event === 'error') throw new RequestError(reply.data.code, reply.data.message);
    return reply.data;
  }

  /** Sends a request with a fresh id; resolves with the reply frame (ack or error). */
  call(event: string, data?: unknown): Promise<Frame> {
    const id = this.nextId++;
    const reply = this.waitFor((f) => f.id === id && (f.event === 'ack' || f.event === 'error'), 0);
    this.ws.send(JSON.stringify(data === undefined ? { event, id } : { event, id, data }));
    return reply;
  }

  /** The next frame of `event` (received from now on, or already received after index `from`). */
  next(event: string, match: (data: any) => boolean = () => true, from = this.frames.length): Promise<Frame> {
    return this.waitFor((f) => f.event === event && match(f.data), from);
  }

  /** Waits for the first frame at or after index `from` that matches. */
  waitFor(match: (f: Frame) => boolean, from = this.frames.length, timeoutMs = 5000): Promise<Frame> {
    for (let i = from; i < this.frames.length; i++) if (match(this.frames[i])) return Promise.resolve(this.frames[i]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        match,
        from,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Frames of one event received so far. */
  all(event: string): any[] {
    return this.frames.filter((f) => f.event === event).map((f) => f.data);
  }

  /** Closes and waits for the close to finish. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }

  /** Kills the TCP connection without a closing handshake (a dropped network). */
  drop(): void {
    this.ws.terminate();
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await Promise.all([...open].map((c) => c.close()));
});
