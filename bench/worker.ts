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
  /** Which server process holds this client's connection (index; -1 until `place` tells). */
  node: number;
}

const state = {
  kind: 'gif-chat' as ServerKind,
  url: '',
  clients: [] as Tracked[],
  received: 0,
  lastReceipt: 0,
  latency: new Histogram(),
  /** Latency of receipts whose sender was on this receiver's server process, and on another one. */
  sameNode: new Histogram(),
  crossNode: new Histogram(),
  trackSeqs: false,
  /** Joins tried again after an error answer (see joinRetrying). */
  joinRetries: 0,
  measureLatency: false,
};

/** This worker's own event-loop delay since the last reset: how much of a latency is the load generator's. */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A message text: the send time, then (when known) `|<node>` of the sender's server process, then padding. */
const payload = (size: number, node = -1) => `${now().toFixed(3)}${node >= 0 && node <= 9 ? `|${node}` : ''}|${'x'.repeat(Math.max(0, size))}`;

function listen(t: Tracked): void {
  t.client.onEntry = (seq, sentAt, origin) => {
    state.received++;
    const at = now();
    state.lastReceipt = at;
    if (state.measureLatency) {
      state.latency.record(at - sentAt);
      if (origin >= 0 && t.node >= 0) (origin === t.node ? state.sameNode : state.crossNode).record(at - sentAt);
    }
    if (state.trackSeqs) t.seen.push(seq);
  };
}

/**
 * Every client sends a request and waits for its reply, for `durationMs`: back to back when
 * `gapMs` is 0 (5 ms after a failure), else `gapMs` after each reply.
 */
async function timedRequests(durationMs: number, gapMs: number) {
  const stopAt = now() + durationMs;
  const latency = new Histogram();
  let count = 0;
  let failed = 0;
  await Promise.all(
    state.clients.map(async (t) => {
      while (now() < stopAt) {
        const at = now();
        let ok = true;
        try {
          await t.client.request(t.room);
          latency.record(now() - at);
          count++;
        } catch {
          failed++;
          ok = false;
        }
        if (gapMs > 0) await sleep(gapMs);
        else if (!ok) await sleep(5);
      }
    }),
  );
  return { count, failed, latency: latency.toJSON() };
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

/**
 * Joins, trying again (5 times at most, backing off) when the server answers with an error:
 * a store under a connect storm may answer `unavailable` (PostgreSQL's pool busy past its
 * timeout), and a client is told to retry then.
 */
async function joinRetrying(client: BenchClient, room: string): Promise<number[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.join(room);
    } catch (err) {
      if (attempt >= 5 || /closed/.test(String(err))) throw err;
      state.joinRetries++;
      await sleep(100 * attempt + Math.random() * 100);
    }
  }
}

const ops = {
  /** Connects `count` clients; client i joins rooms[i % rooms.length] when `join`. */
  /** Connects `count` clients; with `addresses`, client i comes from `<addresses>.<i>` (X-Forwarded-For, for a server behind TRUST_PROXY). */
  async connect(a: { kind: ServerKind; url: string; count: number; rooms: string[]; join: boolean; concurrency: number; addresses?: string }) {
    state.kind = a.kind;
    state.url = a.url;
    const start = now();
    const fresh: Tracked[] = [];
    await pool(Array.from({ length: a.count }, (_, i) => i), a.concurrency, async (i) => {
      const client = await connectClient(a.kind, a.url, a.addresses === undefined ? undefined : `${a.addresses}.${i + 1}`);
      const t: Tracked = { client, room: a.rooms[i % a.rooms.length], seen: [], floor: 0, node: -1 };
      listen(t);
      if (a.join) {
        const history = await joinRetrying(client, t.room);
        t.floor = history.length ? Math.max(...history) : 0;
        t.seen.push(...history);
      }
      fresh.push(t);
    });
    state.clients.push(...fresh);
    return { ms: now() - start, connected: fresh.length, joinRetries: state.joinRetries };
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

  /** The local TCP port of each client, in order (the coordinator finds which server process holds each). */
  async ports(_?: object) {
    return { ports: state.clients.map((t) => t.client.localPort()) };
  },

  /** Which server process holds each client's connection, in the order of `ports`. */
  async place(a: { nodes: number[] }) {
    state.clients.forEach((t, i) => (t.node = a.nodes[i] ?? -1));
    return {};
  },

  /** Latency since the last reset, split by whether the sender was on the receiver's server process. */
  async split(_?: object) {
    return { same: state.sameNode.toJSON(), cross: state.crossNode.toJSON() };
  },

  async reset(_?: object) {
    state.received = 0;
    state.lastReceipt = 0;
    state.latency = new Histogram();
    state.sameNode = new Histogram();
    state.crossNode = new Histogram();
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
    const text = payload(a.size, t.node);
    const tail = text.slice(text.indexOf('|'));
    let sent = 0;
    let acked = 0;
    const seqs: number[] = [];
    await Promise.all(
      Array.from({ length: a.window }, async () => {
        while (sent < a.count) {
          sent++;
          seqs.push(await t.client.send(t.room, `${now().toFixed(3)}${tail}`));
          acked++;
        }
      }),
    );
    return { start, end: now(), acked, seqs };
  },

  /**
   * Every client sends `rate` messages a second to its room for `durationMs`, each at a random phase; then waits `tailMs` (default 500)
   * for the last acks. With `endAtStop`, a client's wait after its last send ends at the end of the run, not a whole gap later.
   */
  async paced(a: { rate: number; durationMs: number; tailMs?: number; endAtStop?: boolean }) {
    const stopAt = now() + a.durationMs;
    let sent = 0;
    let acked = 0;
    let failed = 0;
    const gap = 1000 / a.rate;
    await Promise.all(
      state.clients.map(async (t) => {
        // A phase past the end (a run shorter than the gap) sends nothing and waits no longer than the run.
        await sleep(Math.min(Math.random() * gap, Math.max(0, stopAt - now())));
        while (now() < stopAt) {
          const due = now() + gap;
          sent++;
          t.client.send(t.room, payload(32, t.node)).then(
            () => acked++,
            () => failed++,
          );
          await sleep(Math.max(0, (a.endAtStop ? Math.min(due, stopAt) : due) - now()));
        }
      }),
    );
    await sleep(a.tailMs ?? 500);
    return { sent, acked, failed };
  },

  /**
   * Clients skip..skip+senders each keep `window` messages in flight for `durationMs`,
   * pausing `gapMs` after each ack; returns the acked seqs by room. With `nonces`, every
   * message carries a nonce of its own (the server checks each against the stored ones).
   */
  async flood(a: { senders: number; window: number; durationMs: number; gapMs: number; skip: number; nonces?: boolean }) {
    const stopAt = now() + a.durationMs;
    const acked: Record<string, number[]> = {};
    let failed = 0;
    let nonce = 0;
    const start = now();
    await Promise.all(
      state.clients.slice(a.skip, a.skip + a.senders).flatMap((t) =>
        Array.from({ length: a.window }, async () => {
          while (now() < stopAt) {
            try {
              const seq = await t.client.send(t.room, payload(32), a.nonces ? `${process.pid}-${++nonce}` : undefined);
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
    return timedRequests(a.durationMs, 0);
  },

  /**
   * Every client sends one request, waits for its reply, then `gapMs`, for `durationMs`: people
   * using the app at a human pace, whose round trips are the measure of a server under attack.
   */
  async probe(a: { durationMs: number; gapMs: number }) {
    const { failed, latency } = await timedRequests(a.durationMs, a.gapMs);
    return { failed, latency };
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

  /**
   * Back to a fresh worker's state for the next cell of a run that keeps its workers: every
   * client dropped (as a worker's exit drops them), counters and tracking cleared.
   */
  async clear(_?: object) {
    for (const t of state.clients) t.client.drop();
    await Promise.race([Promise.all(state.clients.map((t) => t.client.closed)), sleep(1000)]);
    state.clients = [];
    state.trackSeqs = false;
    state.measureLatency = false;
    state.joinRetries = 0;
    return ops.reset();
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
