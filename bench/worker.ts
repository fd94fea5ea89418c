/**
 * A load-generating worker process. The coordinator (bench/run.ts) calls the ops
 * below over IPC; the worker keeps its clients between calls. All traffic goes to
 * 127.0.0.1 and every loop is bounded in count or time.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BenchClient, connectClient, now, ServerKind } from './clients';
import { Histogram } from './histogram';

interface Tracked {
  client: BenchClient;
  room: string;
  /** Message seqs seen (history and live), when tracking for the reconnect check. */
  seen: number[];
  /** Seq below which this client makes no claim (the first join's starting point). */
  floor: number;
}

const state = {
  kind: 'gif-chat' as ServerKind,
  url: '',
  clients: [] as Tracked[],
  received: 0,
  lastReceipt: 0,
  latency: new Histogram(),
  trackSeqs: false,
  measureLatency: false,
};

/** This worker's own event-loop delay since the last reset: how much of a latency is the load generator's. */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const payload = (size: number) => `${now().toFixed(3)}|${'x'.repeat(Math.max(0, size))}`;

function listen(t: Tracked): void {
  t.client.onEntry = (seq, sentAt) => {
    state.received++;
    const at = now();
    state.lastReceipt = at;
    if (state.measureLatency) state.latency.record(at - sentAt);
    if (state.trackSeqs) t.seen.push(seq);
  };
}

/** Runs `fn` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await fn(items[index], index);
      }
    }),
  );
}

const ops = {
  /** Connects `count` clients; client i joins rooms[i % rooms.length] when `join`. */
  async connect(a: { kind: ServerKind; url: string; count: number; rooms: string[]; join: boolean; concurrency: number }) {
    state.kind = a.kind;
    state.url = a.url;
    const start = now();
    const fresh: Tracked[] = [];
    await pool(Array.from({ length: a.count }, (_, i) => i), a.concurrency, async (i) => {
      const client = await connectClient(a.kind, a.url);
      const t: Tracked = { client, room: a.rooms[i % a.rooms.length], seen: [], floor: 0 };
      listen(t);
      if (a.join) {
        const history = await client.join(t.room);
        t.floor = history.length ? Math.max(...history) : 0;
        t.seen.push(...history);
      }
      fresh.push(t);
    });
    state.clients.push(...fresh);
    return { ms: now() - start, connected: fresh.length };
  },

  /** Starts or stops measuring latency and seqs of receipts. */
  async track(a: { latency: boolean; seqs: boolean }) {
    state.measureLatency = a.latency;
    state.trackSeqs = a.seqs;
    return {};
  },

  async counters(_?: object) {
    return {
      received: state.received,
      lastReceipt: state.lastReceipt,
      latency: state.latency.toJSON(),
      loopP99: loopDelay.percentile(99) / 1e6,
    };
  },

  async reset(_?: object) {
    state.received = 0;
    state.lastReceipt = 0;
    state.latency = new Histogram();
    loopDelay.reset();
    return {};
  },

  /** Creates rooms through setup clients of its own (each within the rate limit), closed afterwards. */
  async create(a: { kind: ServerKind; url: string; count: number; max: number }) {
    const perClient = 30;
    const rooms: string[] = new Array(a.count);
    await Promise.all(
      Array.from({ length: Math.ceil(a.count / perClient) }, async (_, c) => {
        const setup = await connectClient(a.kind, a.url);
        for (let i = c * perClient; i < Math.min(a.count, (c + 1) * perClient); i++) rooms[i] = await setup.create(`bench ${i}`, a.max);
        setup.close();
      }),
    );
    return { rooms };
  },

  /** Client `index` sends `count` messages to its room keeping `window` unacked. */
  async burst(a: { index: number; count: number; window: number; size: number }) {
    const t = state.clients[a.index];
    const start = now();
    const text = payload(a.size);
    let sent = 0;
    let acked = 0;
    const seqs: number[] = [];
    await Promise.all(
      Array.from({ length: a.window }, async () => {
        while (sent < a.count) {
          sent++;
          seqs.push(await t.client.send(t.room, `${now().toFixed(3)}${text.slice(text.indexOf('|'))}`));
          acked++;
        }
      }),
    );
    return { start, end: now(), acked, seqs };
  },

  /** Every client sends `rate` messages a second to its room for `durationMs`, each at a random phase. */
  async paced(a: { rate: number; durationMs: number }) {
    const stopAt = now() + a.durationMs;
    let sent = 0;
    let acked = 0;
    let failed = 0;
    const gap = 1000 / a.rate;
    await Promise.all(
      state.clients.map(async (t) => {
        await sleep(Math.random() * gap);
        while (now() < stopAt) {
          const due = now() + gap;
          sent++;
          t.client.send(t.room, payload(32)).then(
            () => acked++,
            () => failed++,
          );
          await sleep(Math.max(0, due - now()));
        }
      }),
    );
    await sleep(500);
    return { sent, acked, failed };
  },

  /**
   * Clients skip..skip+senders each keep `window` messages in flight for `durationMs`,
   * pausing `gapMs` after each ack; returns the acked seqs by room.
   */
  async flood(a: { senders: number; window: number; durationMs: number; gapMs: number; skip: number }) {
    const stopAt = now() + a.durationMs;
    const acked: Record<string, number[]> = {};
    let failed = 0;
    const start = now();
    await Promise.all(
      state.clients.slice(a.skip, a.skip + a.senders).flatMap((t) =>
        Array.from({ length: a.window }, async () => {
          while (now() < stopAt) {
            try {
              const seq = await t.client.send(t.room, payload(32));
              (acked[t.room] ??= []).push(seq);
              if (a.gapMs) await sleep(a.gapMs);
            } catch {
              failed++;
              await sleep(5);
            }
          }
        }),
      ),
    );
    return { acked, failed, ms: now() - start };
  },

  /** Every client sends requests back to back for `durationMs`. */
  async requests(a: { durationMs: number }) {
    const stopAt = now() + a.durationMs;
    const latency = new Histogram();
    let count = 0;
    let failed = 0;
    await Promise.all(
      state.clients.map(async (t) => {
        while (now() < stopAt) {
          const at = now();
          try {
            await t.client.request(t.room);
            latency.record(now() - at);
            count++;
          } catch {
            failed++;
            await sleep(5);
          }
        }
      }),
    );
    return { count, failed, latency: latency.toJSON() };
  },

  /** The first `count` clients stop reading their sockets. */
  async pause(a: { count: number }) {
    for (const t of state.clients.slice(0, a.count)) {
      t.client.onEntry = () => {};
      t.client.pause();
    }
    return {};
  },

  /** Every client drops its connection at once. */
  async dropAll(_?: object) {
    const at = now();
    for (const t of state.clients) t.client.drop();
    await Promise.all(state.clients.map((t) => t.client.closed));
    return { at };
  },

  /** Every client reconnects and resumes with since = the last seq it saw. */
  async resume(a: { concurrency: number }) {
    let last = 0;
    await pool(state.clients, a.concurrency, async (t) => {
      for (let attempt = 0; ; attempt++) {
        try {
          t.client = await connectClient(state.kind, state.url);
          listen(t);
          const since = t.seen.length ? Math.max(...t.seen) : t.floor;
          const history = await t.client.join(t.room, since);
          t.seen.push(...history);
          last = Math.max(last, now());
          return;
        } catch (err) {
          if (attempt >= 20) throw err;
          await sleep(50 + Math.random() * 200);
        }
      }
    });
    return { caughtUpAt: last };
  },

  /** Compares what each client saw with the acked seqs of its room (after its floor). */
  async verify(a: { acked: Record<string, number[]> }) {
    let missed = 0;
    let doubled = 0;
    for (const t of state.clients) {
      const seen = new Map<number, number>();
      for (const seq of t.seen) seen.set(seq, (seen.get(seq) ?? 0) + 1);
      for (const count of seen.values()) if (count > 1) doubled += count - 1;
      for (const seq of a.acked[t.room] ?? []) if (seq > t.floor && !seen.has(seq)) missed++;
    }
    return { missed, doubled };
  },

  async closeAll(_?: object) {
    for (const t of state.clients) t.client.close();
    await Promise.race([Promise.all(state.clients.map((t) => t.client.closed)), sleep(5000)]);
    for (const t of state.clients) t.client.drop();
    state.clients = [];
    return {};
  },
};

export type WorkerOps = typeof ops;

process.on('message', async (msg: { id: number; op: keyof WorkerOps; args: any }) => {
  try {
    const result = await (ops[msg.op] as (a: unknown) => Promise<unknown>)(msg.args);
    process.send!({ id: msg.id, result });
  } catch (err) {
    process.send!({ id: msg.id, error: String((err as Error)?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
