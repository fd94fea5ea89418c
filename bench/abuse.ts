/**
 * The abuse scenario: what each attack of docs/security.md costs the people using the server
 * at the same time. Attackers run in this (coordinating) process against 127.0.0.1 with the
 * server's default limits, each loop bounded in count and time; the people are probe clients
 * in a load worker, sending a request at a human pace and timing its reply.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import WebSocket from 'ws';
import { LoadWorker, RunningServer, sleep, startServer, withWorkers } from './harness';
import { Histogram } from './histogram';
import type { Metrics, Mode, Scenario } from './scenarios';

type Reply = { event: string; data: any };

/**
 * Where the attackers come from, and the people (each their own address): the server runs
 * behind TRUST_PROXY here, so per-address limits see them apart, as they would in life.
 */
const ATTACKER = '198.51.100.66';
const PEOPLE = '203.0.113';

/** A bare protocol client for attackers: requests with ids, replies by id; closes quietly. */
class Raw {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  closed = false;
  user: { id: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('error', () => {});
    ws.on('message', (raw) => {
      let frame: { event: string; id?: number; data: any };
      try {
        frame = JSON.parse(raw.toString());
      } catch {
        return;
      }
      if (frame.event === 'welcome') this.user = frame.data.user;
      if (frame.id !== undefined) {
        this.waiting.get(frame.id)?.({ event: frame.event, data: frame.data });
        this.waiting.delete(frame.id);
      }
    });
    ws.on('close', () => {
      this.closed = true;
      for (const resolve of this.waiting.values()) resolve({ event: 'closed', data: {} });
      this.waiting.clear();
    });
  }

  /** Opens a socket (with a session cookie, as that session's person); undefined when refused. */
  static open(url: string, cookie?: string, timeoutMs = 5000, from = ATTACKER): Promise<Raw | undefined> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers: { origin: url, 'x-forwarded-for': from, ...(cookie ? { cookie } : {}) } });
      const client = new Raw(ws);
      const timer = setTimeout(() => {
        ws.terminate();
        resolve(undefined);
      }, timeoutMs);
      ws.once('message', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('close', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  request(event: string, data?: unknown, timeoutMs = 10_000): Promise<Reply> {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return Promise.resolve({ event: 'closed', data: {} });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ event: 'timeout', data: {} });
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.ws.send(JSON.stringify({ event, id, data }));
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A browser session's cookie, made as the lobby's script makes it (POST /session); undefined when none was set. */
async function sessionCookie(url: string): Promise<string | undefined> {
  const res = await fetch(`${url}/session`, { method: 'POST', headers: { origin: url, 'x-forwarded-for': ATTACKER } });
  await res.arrayBuffer();
  return res.headers.get('set-cookie')?.split(';')[0] ?? undefined;
}

/** What an attack did, by outcome (acked, each error code, closed…). */
type Tally = Record<string, number>;
const count = (tally: Tally, key: string) => (tally[key] = (tally[key] ?? 0) + 1);
const outcome = (reply: Reply) => (reply.event === 'error' ? String(reply.data?.code) : reply.event);

/** Shared by the attacks: the server, and a room the probes are in. */
interface Target {
  url: string;
  room: string;
  /** A bystander's user id, for whispers. */
  bystander: string;
}

/** A running attack: `stop()` ends its loops, closes its sockets and says what it did. */
interface Running {
  stop(): Promise<Tally>;
}

interface Attack {
  key: string;
  label: string;
  /** Prepares (not measured) and starts the attack. */
  start(target: Target, mode: Mode): Promise<Running>;
}

const pick = <T>(mode: Mode, full: T, quick: T, smoke: T) => (mode === 'full' ? full : mode === 'quick' ? quick : smoke);

/** Runs `loop` on every client until stopped; each loop iteration awaits its reply (self-paced). */
function looping(clients: Raw[], step: (client: Raw, i: number) => Promise<string>, tally: Tally = {}): Running {
  let stopped = false;
  const loops = clients.map(async (client, i) => {
    while (!stopped && !client.closed) count(tally, await step(client, i));
    if (client.closed && !stopped) count(tally, 'socket closed');
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      for (const c of clients) c.close();
      return tally;
    },
  };
}

/** Opens up to `n` sockets (bounded); refused ones are counted. */
async function openMany(url: string, n: number, cookie: string | undefined, tally: Tally): Promise<Raw[]> {
  const out: Raw[] = [];
  for (let i = 0; i < n; i++) {
    const c = await Raw.open(url, cookie);
    if (c) out.push(c);
    else count(tally, 'socket refused');
  }
  return out;
}

const attacks: Attack[] = [
  {
    key: 'flood',
    label: 'one person floods messages from 20 sockets',
    async start(t, mode) {
      const tally: Tally = {};
      const cookie = await sessionCookie(t.url);
      const clients = await openMany(t.url, pick(mode, 20, 20, 3), cookie, tally);
      for (const c of clients) await c.request('join', { room: t.room });
      const text = 'x'.repeat(2000);
      return looping(clients, async (c) => outcome(await c.request('message', { room: t.room, text })), tally);
    },
  },
  {
    key: 'replies',
    label: '10 sockets ask again and again for 1000 messages of 4 KB (join since 0)',
    async start(t, mode) {
      const tally: Tally = {};
      // Seeded by 40 people within their own limits (30 each at once).
      const seeders = await openMany(t.url, pick(mode, 40, 40, 4), undefined, tally);
      const owner = seeders[0];
      const room = (await owner.request('create', { title: `Big ${randomBytes(3).toString('hex')}`, max: 100 })).data.id as string;
      const text = 'y'.repeat(4000);
      await Promise.all(
        seeders.map(async (c) => {
          await c.request('join', { room });
          for (let i = 0; i < 25; i++) await c.request('message', { room, text });
        }),
      );
      for (const c of seeders) c.close();
      const readers = await openMany(t.url, pick(mode, 10, 10, 2), undefined, tally);
      return looping(readers, async (c) => {
        const reply = await c.request('join', { room, since: 0 });
        return reply.event === 'ack' ? (reply.data.more ? 'page (more)' : 'whole log') : outcome(reply);
      }, tally);
    },
  },
  {
    key: 'passwords',
    label: '20 sockets guess a room password',
    async start(t, mode) {
      const tally: Tally = {};
      const owner = await Raw.open(t.url);
      const room = (await owner!.request('create', { title: 'Locked', max: 10, password: 'correct horse battery staple' })).data.id as string;
      owner!.close();
      const clients = await openMany(t.url, pick(mode, 20, 20, 2), undefined, tally);
      return looping(clients, async (c, i) => outcome(await c.request('join', { room, password: `guess-${i}-${randomBytes(4).toString('hex')}` })), tally);
    },
  },
  {
    key: 'uploads',
    label: '200 uploads that stall after 64 KB',
    async start(t, mode) {
      const tally: Tally = {};
      const cookie = await sessionCookie(t.url);
      const member = await Raw.open(t.url, cookie);
      await member?.request('join', { room: t.room });
      const n = pick(mode, 200, 200, 5);
      const requests: http.ClientRequest[] = [];
      const { port } = new URL(t.url);
      const boundary = `----gifchat${randomBytes(6).toString('hex')}`;
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="gif"; filename="a.gif"\r\nContent-Type: image/gif\r\n\r\nGIF89a`;
      for (let i = 0; i < n; i++) {
        const req = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: `/room/${t.room}/gif`,
          headers: { cookie: cookie ?? '', origin: t.url, 'x-forwarded-for': ATTACKER, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(5 * 1024 * 1024) },
        });
        req.on('error', () => count(tally, 'cut'));
        req.on('response', (res) => {
          count(tally, `HTTP ${res.statusCode}`);
          res.resume();
        });
        req.write(head);
        req.write(Buffer.alloc(64 * 1024, 1));
        requests.push(req);
      }
      return {
        async stop() {
          for (const req of requests) req.destroy();
          member?.close();
          return tally;
        },
      };
    },
  },
  {
    key: 'rooms',
    label: '20 sockets create rooms',
    async start(t, mode) {
      const tally: Tally = {};
      const cookie = await sessionCookie(t.url);
      const clients = await openMany(t.url, pick(mode, 20, 20, 2), cookie, tally);
      return looping(clients, async (c) => outcome(await c.request('create', { title: `Spam ${randomBytes(3).toString('hex')}`, max: 2 })), tally);
    },
  },
  {
    key: 'whispers',
    label: '10 sockets whisper at one person',
    async start(t, mode) {
      const tally: Tally = {};
      const clients = await openMany(t.url, pick(mode, 10, 10, 2), undefined, tally);
      return looping(clients, async (c) => outcome(await c.request('whisper', { to: t.bystander, text: 'z'.repeat(1000) })), tally);
    },
  },
  {
    key: 'sockets',
    label: 'one address opens up to 3000 sockets',
    async start(t, mode) {
      const tally: Tally = {};
      const n = pick(mode, 3000, 3000, 50);
      const opened: Raw[] = [];
      let stopped = false;
      const opening = (async () => {
        for (let i = 0; i < n && !stopped; i += 50) {
          const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => Raw.open(t.url, undefined, 3000)));
          for (const c of batch) c ? (opened.push(c), count(tally, 'opened')) : count(tally, 'socket refused');
        }
      })();
      return {
        async stop() {
          stopped = true;
          await opening;
          for (const c of opened) c.close();
          return tally;
        },
      };
    },
  },
];

const metricsOf = (): Scenario['metrics'] => [
  { key: 'calmP99', label: 'calm: people\'s p99 ms', better: 'lower' },
  ...attacks.flatMap((a) => [
    { key: `${a.key}P99`, label: `${a.label}: p99 ms`, better: 'lower' as const },
    { key: `${a.key}Ratio`, label: `${a.label}: p99 / calm`, better: 'lower' as const },
  ]),
  { key: 'worstRatio', label: 'worst p99 / calm', better: 'lower' },
  { key: 'probeFailures', label: 'people\'s requests that failed', better: 'lower' },
  { key: 'rssBaseMiB', label: 'server RSS before MiB', better: 'lower' },
  { key: 'rssPeakMiB', label: 'server RSS peak MiB', better: 'lower' },
  { key: 'rssAfterMiB', label: 'server RSS after MiB', better: 'lower' },
  { key: 'rssAfterRatio', label: 'RSS after / before', better: 'lower' },
];

/** One probe phase: the people's p99 over `durationMs`, and their failures. */
async function probe(worker: LoadWorker, durationMs: number): Promise<{ p99: number; failed: number }> {
  const r = await worker.call('probe', { durationMs, gapMs: 60 });
  const h = new Histogram();
  h.merge(r.latency);
  return { p99: h.percentile(99), failed: r.failed };
}

export const abuse: Scenario = {
  name: 'abuse',
  about:
    'gif-chat with its default limits, behind TRUST_PROXY: the attackers come from one address, each person from their own (X-Forwarded-For). 20 people (a load worker) each send a `history` request, wait for the reply and 60 ms, calm and then while each attack runs ' +
    '(attackers in the coordinating process, 127.0.0.1); server RSS before the attacks, at its peak, and 5 s after the last. What each attack got is printed per run',
  kinds: ['gif-chat'],
  metrics: metricsOf(),
  async run(kind, mode): Promise<Metrics> {
    const phaseMs = pick(mode, 8000, 5000, 200);
    return withServerAndWorker(kind, async (server, worker) => {
      const setup = await Raw.open(server.url, undefined, 5000, `${PEOPLE}.200`);
      const room = (await setup!.request('create', { title: 'Town square', max: 1000 })).data.id as string;
      await worker.call('connect', { kind, url: server.url, count: pick(mode, 20, 20, 3), rooms: [room], join: true, concurrency: 10, addresses: PEOPLE });
      const bystander = setup!.user!.id;
      await sleep(pick(mode, 1000, 1000, 200));
      const base = server.rss();
      let peak = base;
      const sampler = setInterval(() => (peak = Math.max(peak, server.rss())), 100);
      const out: Metrics = {};
      let failures = 0;
      try {
        const calm = await probe(worker, phaseMs);
        out.calmP99 = calm.p99;
        failures += calm.failed;
        let worst = 0;
        for (const attack of attacks) {
          const running = await attack.start({ url: server.url, room, bystander }, mode);
          await sleep(pick(mode, 500, 500, 50));
          const got = await probe(worker, phaseMs);
          const tally = await running.stop();
          console.log(`abuse ${attack.key}: ${JSON.stringify(tally)}; people's p99 ${got.p99.toFixed(1)} ms (calm ${calm.p99.toFixed(1)})`);
          out[`${attack.key}P99`] = got.p99;
          out[`${attack.key}Ratio`] = calm.p99 > 0 ? got.p99 / calm.p99 : null;
          worst = Math.max(worst, calm.p99 > 0 ? got.p99 / calm.p99 : 0);
          failures += got.failed;
          await sleep(pick(mode, 1000, 1000, 50));
        }
        out.worstRatio = worst;
      } finally {
        clearInterval(sampler);
        setup?.close();
      }
      await sleep(pick(mode, 5000, 5000, 200));
      out.probeFailures = failures;
      out.rssBaseMiB = base / 1024 / 1024;
      out.rssPeakMiB = peak / 1024 / 1024;
      out.rssAfterMiB = server.rss() / 1024 / 1024;
      out.rssAfterRatio = server.rss() / base;
      return out;
    });
  },
};

async function withServerAndWorker<T>(kind: Parameters<typeof startServer>[0], fn: (server: RunningServer, worker: LoadWorker) => Promise<T>): Promise<T> {
  // Every limit at its default, behind TRUST_PROXY: the attackers come from one address, each
  // person from their own (X-Forwarded-For), as through a proxy in life.
  const server = await startServer(kind, { TRUST_PROXY: 'true', SOCKETS_PER_IP: '50', SOCKETS_PER_SESSION: '20', READ_BYTES_PER_SEC: String(2 * 1024 * 1024) });
  try {
    return await withWorkers(1, ([worker]) => fn(server, worker));
  } finally {
    await server.stop();
  }
}
