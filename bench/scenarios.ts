import { abuse } from './abuse';
import { ServerKind } from './clients';
import { generatorCpuMs, LoadWorker, RunningServer, sleep, split, startServer, withWorkers } from './harness';
import { Histogram } from './histogram';

/** How big a run is: `full` is the report, `quick` a shorter check, `smoke` a few clients for a second (the jest test). */
export type Mode = 'full' | 'quick' | 'smoke';

/** One measured value of a scenario run; `null` when the server cannot do it (bare ws has no history). */
export type Metrics = Record<string, number | null>;

/** A benchmark scenario: what it measures, and how to run it once against one server kind. */
export interface Scenario {
  name: string;
  /** What it does, for the report. */
  about: string;
  /** Metric keys, their units, and which way is better. */
  metrics: { key: string; label: string; better: 'higher' | 'lower' }[];
  run(kind: ServerKind, mode: Mode): Promise<Metrics>;
  /** Runs per cell when more than the harness's 3 are needed for a stable median. */
  reps?: number;
  /** The servers it runs against, in report order; the first two make the ratio column. Default: `baseKinds`. */
  kinds?: ServerKind[];
}

/** The one-process comparison: gif-chat, Socket.IO, bare ws. */
export const baseKinds: ServerKind[] = ['gif-chat', 'socket.io', 'bare-ws'];
/** Across processes: gif-chat and Socket.IO on 2 processes each (Redis, PostgreSQL), next to gif-chat's one process on SQLite. */
export const clusterKinds: ServerKind[] = ['gif-chat-cluster', 'socket.io-cluster', 'gif-chat'];

/** The servers a scenario runs against. */
export const kindsOf = (scenario: Scenario): ServerKind[] => scenario.kinds ?? baseKinds;

/** Limits the harness raises for load that sends faster than a person: the documented exception. */
const FAST_SENDER = { RATE_PER_SEC: '1000000', RATE_BURST: '1000000', USER_MESSAGES_PER_SEC: '1000000', USER_MESSAGES_BURST: '1000000' };

const pick = <T>(mode: Mode, full: T, quick: T, smoke: T) => (mode === 'full' ? full : mode === 'quick' ? quick : smoke);

/**
 * Room quotas raised for every scenario: the setup clients create rooms by the hundred from one
 * address, faster than a person (30 per client). A scenario's own env comes after, so one that
 * measures the quotas sets them back.
 */
const SETUP_ROOMS = { ROOMS_PER_USER: '1000000', ROOM_CREATES_PER_HOUR: '1000000' };

/** Starts the server, always stops it. */
async function withServer<T>(kind: ServerKind, env: Record<string, string>, fn: (s: RunningServer) => Promise<T>): Promise<T> {
  const server = await startServer(kind, { ...SETUP_ROOMS, ...env });
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** Connects `total` clients across workers, joining `rooms` round-robin. */
async function connectAll(workers: LoadWorker[], kind: ServerKind, url: string, total: number, rooms: string[], join = true) {
  const counts = split(total, workers.length);
  let offset = 0;
  const results = await Promise.all(
    workers.map((w, i) => {
      // Keep the round-robin global so each room gets its share whatever the worker.
      const mine = Array.from({ length: counts[i] }, (_, k) => rooms[(offset + k) % rooms.length]);
      offset += counts[i];
      return counts[i] ? w.call('connect', { kind, url, count: counts[i], rooms: mine, join, concurrency: 100 }) : Promise.resolve({ ms: 0, connected: 0, joinRetries: 0 });
    }),
  );
  const retries = results.reduce((a, r) => a + r.joinRetries, 0);
  if (retries > 0) console.warn(`${kind}: ${retries} joins answered with an error were tried again`);
  return { ms: Math.max(...results.map((r) => r.ms)) };
}

/** Creates rooms through a setup client in `worker`. */
function createRooms(worker: LoadWorker, kind: ServerKind, url: string, count: number, max: number): Promise<string[]> {
  return worker.call('create', { kind, url, count, max }).then((r) => r.rooms);
}

/** Starts a CPU reading of the server and the load generators; calling the result gives the ms each used since. */
function cpuSince(server: RunningServer, workers: LoadWorker[]): () => { server: number; generators: number } {
  const [server0, generators0] = [server.cpuMs(), generatorCpuMs(workers)];
  return () => ({ server: server.cpuMs() - server0, generators: generatorCpuMs(workers) - generators0 });
}

/** Starts a CPU reading of the Redis and PostgreSQL the server uses; calling the result gives the ms each used since (null: none). */
function serviceCpuSince(server: RunningServer): () => { redis: number | null; postgres: number | null } {
  const start = server.serviceCpuMs();
  return () => {
    const now = server.serviceCpuMs();
    return { redis: now.redis === null ? null : now.redis - start.redis!, postgres: now.postgres === null ? null : now.postgres - start.postgres! };
  };
}

const perDelivery = (ms: number | null, deliveries: number) => (ms === null || deliveries === 0 ? null : (ms * 1000) / deliveries);
const percentOf = (ms: number | null, wallMs: number) => (ms === null ? null : (ms / wallMs) * 100);

/**
 * Tells every worker which server process holds each of its clients' connections (found
 * from /proc, see proc-stats socketOwners), so receipts are split by same or other process
 * than the sender's. Resolves with how many clients each process holds.
 */
async function place(server: RunningServer, workers: LoadWorker[]): Promise<number[]> {
  const perProcess = new Array<number>(server.processes.length).fill(0);
  let unplaced = 0;
  for (const w of workers) {
    const { ports } = await w.call('ports', {});
    const nodes = server.nodeOf(ports);
    for (const n of nodes) n >= 0 ? perProcess[n]++ : unplaced++;
    await w.call('place', { nodes });
  }
  if (unplaced > 0) console.warn(`${server.kind}: ${unplaced} clients' connections were not found in any server process`);
  if (perProcess.length > 1) console.log(`${server.kind}: clients per server process: ${perProcess.join(', ')}`);
  return perProcess;
}

/** Receipt latency since the workers' reset, split by same or other server process than the sender's. */
async function splitLatency(workers: LoadWorker[]) {
  const same = new Histogram();
  const cross = new Histogram();
  for (const r of await Promise.all(workers.map((w) => w.call('split', {})))) {
    same.merge(r.same);
    cross.merge(r.cross);
  }
  const p99 = (h: Histogram) => (h.total ? h.percentile(99) : null);
  const total = same.total + cross.total;
  return {
    p99Same: p99(same),
    p99Cross: p99(cross),
    crossRatio: same.total && cross.total ? cross.percentile(99) / same.percentile(99) : null,
    crossPercent: total ? (cross.total / total) * 100 : null,
  };
}

/**
 * Waits until the server and the load generators are quiet (each under 5% of a core over
 * half a second; smoke: a fifth of a second), at least `minMs` and at most `maxMs`: what a join
 * storm set off (lobby batches to every socket, `joined` pushes) is not counted as steady chat.
 */
async function settle(server: RunningServer, workers: LoadWorker[], mode: Mode, minMs: number, maxMs: number): Promise<void> {
  const windowMs = pick(mode, 500, 500, 200);
  const quiet = windowMs * 0.05;
  await sleep(minMs);
  const stopAt = Date.now() + maxMs - minMs;
  while (Date.now() < stopAt) {
    const used = cpuSince(server, workers);
    await sleep(windowMs);
    const cpu = used();
    if (cpu.server < quiet && cpu.generators < quiet * workers.length) return;
  }
}

async function waitForReceipts(workers: LoadWorker[], expected: number, timeoutMs: number) {
  const stopAt = Date.now() + timeoutMs;
  for (;;) {
    const counters = await Promise.all(workers.map((w) => w.call('counters', {})));
    const received = counters.reduce((a, c) => a + c.received, 0);
    if (received >= expected || Date.now() > stopAt) {
      const latency = new Histogram();
      for (const c of counters) latency.merge(c.latency);
      return {
        received,
        lastReceipt: Math.max(...counters.map((c) => c.lastReceipt)),
        latency,
        loopP99: Math.max(...counters.map((c) => c.loopP99)),
      };
    }
    await sleep(20);
  }
}

const fanout: Scenario = {
  name: 'fan-out',
  about: 'one room of 1000 members; once the joins have settled, one sender sends 300 messages keeping 10 unacked (5 runs: a burst lasts about half a second, so one stall of either process moves a single run by a third)',
  reps: 5,
  metrics: [
    { key: 'deliveriesPerSec', label: 'deliveries/s', better: 'higher' },
    { key: 'cpuUsPerDelivery', label: 'server CPU µs/delivery', better: 'lower' },
  ],
  async run(kind, mode) {
    const members = pick(mode, 1000, 1000, 20);
    const messages = pick(mode, 300, 300, 20);
    return withServer(kind, FAST_SENDER, (server) =>
      withWorkers(3, async ([sender, ...receivers]) => {
        const [room] = await createRooms(sender, kind, server.url, 1, 10_000);
        await connectAll(receivers, kind, server.url, members - 1, [room]);
        await sender.call('connect', { kind, url: server.url, count: 1, rooms: [room], join: true, concurrency: 1 });
        // The joins' presence pushes (gif-chat sends a busy room's together, once a second) are not part of the burst.
        await settle(server, [sender, ...receivers], mode, pick(mode, 1000, 1000, 100), pick(mode, 10_000, 10_000, 1000));
        const all = [sender, ...receivers];
        await Promise.all(all.map((w) => w.call('reset', {})));
        const cpu0 = server.cpuMs();
        const burst = await sender.call('burst', { index: 0, count: messages, window: 10, size: 32 });
        const done = await waitForReceipts(all, messages * members, 60_000);
        const cpu = server.cpuMs() - cpu0;
        const seconds = (done.lastReceipt - burst.start) / 1000;
        return { deliveriesPerSec: done.received / seconds, cpuUsPerDelivery: (cpu * 1000) / done.received, delivered: done.received };
      }),
    );
  },
};

const chatty: Scenario = {
  name: 'chatty rooms',
  about: '5000 clients in 500 rooms of 10, each sending one message a second (30 s; quick 10 s), measured once the join storm has settled (at least 5 s after the last join, server and generators quiet)',
  metrics: [
    { key: 'p50', label: 'latency p50 ms', better: 'lower' },
    { key: 'p99', label: 'latency p99 ms', better: 'lower' },
    { key: 'max', label: 'latency max ms', better: 'lower' },
    { key: 'cpuPercent', label: 'server CPU %', better: 'lower' },
    { key: 'generatorCpuPercent', label: 'load generators CPU % (of one core)', better: 'lower' },
    { key: 'generatorLoopP99', label: 'load generator event-loop delay p99 ms', better: 'lower' },
  ],
  async run(kind, mode) {
    const clients = pick(mode, 5000, 5000, 20);
    const durationMs = pick(mode, 30_000, 10_000, 500);
    return withServer(kind, {}, (server) =>
      withWorkers(2, async (workers) => {
        const rooms = await createRooms(workers[0], kind, server.url, clients / 10, 10);
        await connectAll(workers, kind, server.url, clients, rooms);
        // Let the join storm's aftermath (gif-chat's lobby batches, presence pushes) drain: this measures steady chat.
        await settle(server, workers, mode, pick(mode, 5000, 5000, 100), pick(mode, 20_000, 20_000, 1000));
        await Promise.all(workers.map((w) => w.call('reset', {}).then(() => w.call('track', { latency: true, seqs: false }))));
        const used = cpuSince(server, workers);
        const t0 = Date.now();
        const sent = await Promise.all(workers.map((w) => w.call('paced', { rate: 1, durationMs, tailMs: pick(mode, 500, 500, 200), endAtStop: mode === 'smoke' })));
        const cpu = used();
        const wall = Date.now() - t0;
        const acked = sent.reduce((a, s) => a + s.acked, 0);
        const done = await waitForReceipts(workers, acked * 10, 5000);
        return {
          p50: done.latency.percentile(50),
          p99: done.latency.percentile(99),
          max: done.latency.max,
          cpuPercent: (cpu.server / wall) * 100,
          generatorCpuPercent: (cpu.generators / wall) * 100,
          generatorLoopP99: done.loopP99,
          acked,
        };
      }),
    );
  },
};

const idle: Scenario = {
  name: 'idle connections',
  about: '15000 connected, joined, silent clients (150 rooms of 100); RSS read after 31 s idle (quick 5 s)',
  metrics: [
    { key: 'rssKiBPerConnection', label: 'server RSS KiB/connection', better: 'lower' },
    { key: 'connectsPerSec', label: 'connects/s', better: 'higher' },
    { key: 'connectCpuPercent', label: 'server CPU % while connecting', better: 'lower' },
    { key: 'connectGeneratorCpuPercent', label: 'load generators CPU % while connecting', better: 'lower' },
    { key: 'idleCpuMsPerSec', label: 'idle CPU ms/s (heartbeat)', better: 'lower' },
  ],
  async run(kind, mode) {
    const clients = pick(mode, 15_000, 15_000, 30);
    const idleMs = pick(mode, 31_000, 5000, 300);
    return withServer(kind, {}, (server) =>
      withWorkers(3, async (workers) => {
        const rooms = await createRooms(workers[0], kind, server.url, Math.max(1, clients / 100), 1000);
        await sleep(pick(mode, 300, 300, 100));
        const rss0 = server.rss();
        const used = cpuSince(server, workers);
        const connected = await connectAll(workers, kind, server.url, clients, rooms);
        const connecting = used();
        await sleep(pick(mode, 1000, 1000, 100));
        const cpu0 = server.cpuMs();
        await sleep(idleMs);
        const cpu = server.cpuMs() - cpu0;
        // Steady state: read after the idle window, once the connect storm's garbage had time to be collected.
        const rss1 = server.rss();
        return {
          rssKiBPerConnection: (rss1 - rss0) / 1024 / clients,
          connectsPerSec: clients / (connected.ms / 1000),
          connectCpuPercent: (connecting.server / connected.ms) * 100,
          connectGeneratorCpuPercent: (connecting.generators / connected.ms) * 100,
          idleCpuMsPerSec: cpu / (idleMs / 1000),
        };
      }),
    );
  },
};

const reconnect: Scenario = {
  name: 'reconnect storm',
  about: '2000 clients in 20 rooms drop at once while each room gets 10 messages/s, then reconnect and resume with since',
  metrics: [
    { key: 'catchUpMs', label: 'all caught up ms', better: 'lower' },
    { key: 'missed', label: 'missed entries', better: 'lower' },
    { key: 'doubled', label: 'doubled entries', better: 'lower' },
  ],
  async run(kind, mode) {
    const clients = pick(mode, 2000, 2000, 40);
    const roomCount = pick(mode, 20, 20, 4);
    return withServer(kind, {}, (server) =>
      withWorkers(3, async ([senders, ...members]) => {
        const rooms = await createRooms(senders, kind, server.url, roomCount, 1000);
        await senders.call('connect', { kind, url: server.url, count: roomCount, rooms, join: true, concurrency: 20 });
        await connectAll(members, kind, server.url, clients, rooms);
        await Promise.all(members.map((w) => w.call('track', { latency: false, seqs: true })));
        const flood = senders.call('flood', { senders: roomCount, window: 1, durationMs: pick(mode, 6000, 4000, 800), gapMs: 100, skip: 0 });
        await sleep(pick(mode, 1500, 1000, 300));
        const drops = await Promise.all(members.map((w) => w.call('dropAll', {})));
        const resumed = await Promise.all(members.map((w) => w.call('resume', { concurrency: 200 })));
        const flooded = await flood;
        await sleep(pick(mode, 1000, 1000, 200));
        const catchUpMs = Math.max(...resumed.map((r) => r.caughtUpAt)) - Math.min(...drops.map((d) => d.at));
        if (kind === 'bare-ws') return { catchUpMs, missed: null, doubled: null };
        const checks = await Promise.all(members.map((w) => w.call('verify', { acked: flooded.acked })));
        return { catchUpMs, missed: checks.reduce((a, c) => a + c.missed, 0), doubled: checks.reduce((a, c) => a + c.doubled, 0) };
      }),
    );
  },
};

const durable: Scenario = {
  name: 'durable throughput',
  about: '50 senders in their own rooms keeping 16 messages unacked; an ack means the SQLite write committed (bare ws stores nothing)',
  metrics: [{ key: 'ackedPerSec', label: 'messages acked/s', better: 'higher' }],
  async run(kind, mode) {
    const senders = pick(mode, 50, 50, 2);
    const durationMs = pick(mode, 10_000, 5000, 800);
    return withServer(kind, FAST_SENDER, (server) =>
      withWorkers(2, async (workers) => {
        const rooms = await createRooms(workers[0], kind, server.url, senders, 10);
        const counts = split(senders, 2);
        await workers[1].call('connect', { kind, url: server.url, count: counts[1], rooms: rooms.slice(counts[0]), join: true, concurrency: 50 });
        await workers[0].call('connect', { kind, url: server.url, count: counts[0], rooms: rooms.slice(0, counts[0]), join: true, concurrency: 50 });
        const results = await Promise.all([
          workers[0].call('flood', { senders: counts[0], window: 16, durationMs, gapMs: 0, skip: 0 }),
          workers[1].call('flood', { senders: counts[1], window: 16, durationMs, gapMs: 0, skip: 0 }),
        ]);
        const acked = results.reduce((a, r) => a + Object.values(r.acked).reduce((b, s) => b + s.length, 0), 0);
        return { ackedPerSec: acked / (Math.max(...results.map((r) => r.ms)) / 1000) };
      }),
    );
  },
};

const requestAck: Scenario = {
  name: 'request/ack',
  about: '500 clients each sending `history` requests (20 entries) back to back',
  metrics: [
    { key: 'acksPerSec', label: 'acks/s', better: 'higher' },
    { key: 'p99', label: 'p99 ms', better: 'lower' },
  ],
  async run(kind, mode) {
    const clients = pick(mode, 500, 500, 10);
    const durationMs = pick(mode, 10_000, 5000, 800);
    return withServer(kind, FAST_SENDER, (server) =>
      withWorkers(2, async (workers) => {
        const rooms = await createRooms(workers[0], kind, server.url, Math.max(1, clients / 10), 100);
        await connectAll(workers, kind, server.url, clients, rooms);
        await Promise.all(workers.map((w) => w.call('flood', { senders: 1_000_000, window: 1, durationMs: 300, gapMs: 20, skip: 0 })));
        const results = await Promise.all(workers.map((w) => w.call('requests', { durationMs })));
        const latency = new Histogram();
        for (const r of results) latency.merge(r.latency);
        return { acksPerSec: results.reduce((a, r) => a + r.count, 0) / (durationMs / 1000), p99: latency.percentile(99) };
      }),
    );
  },
};

const hostile: Scenario = {
  name: 'hostile members',
  about:
    'the fan-out room (3 KB messages, 1500 of them; quick 800) calm, then with 5% of members not reading. The sender is paced by acks, not by readers: ' +
    'a server that writes faster than the two receiving generators read leaves a queue in the kernel socket buffers (megabytes per socket), and its p99 is the time spent in that queue. Only the ratio has a target',
  metrics: [
    { key: 'calmP99', label: 'calm p99 ms', better: 'lower' },
    { key: 'hostileP99', label: 'healthy p99 with 5% stalled ms', better: 'lower' },
    { key: 'p99Ratio', label: 'p99 hostile / calm', better: 'lower' },
    { key: 'rssPeakMiB', label: 'server RSS peak MiB', better: 'lower' },
    { key: 'rssEndMiB', label: 'server RSS after MiB', better: 'lower' },
  ],
  async run(kind, mode) {
    const members = pick(mode, 1000, 1000, 20);
    const messages = pick(mode, 1500, 800, 20);
    const size = 3000;
    const round = async (server: RunningServer, sender: LoadWorker, receivers: LoadWorker[], stalled: number) => {
      await Promise.all(receivers.map((w) => w.call('reset', {}).then(() => w.call('track', { latency: true, seqs: false }))));
      if (stalled) await Promise.all(receivers.map((w, i) => w.call('pause', { count: split(stalled, receivers.length)[i] })));
      let peak = server.rss();
      const sampler = setInterval(() => (peak = Math.max(peak, server.rss())), 100);
      await sender.call('burst', { index: 0, count: messages, window: 10, size });
      const done = await waitForReceipts(receivers, (members - 1 - stalled) * messages, 30_000);
      clearInterval(sampler);
      return { p99: done.latency.percentile(99), peak };
    };
    return withServer(kind, FAST_SENDER, (server) =>
      withWorkers(3, async ([sender, ...receivers]) => {
        const [room] = await createRooms(sender, kind, server.url, 1, 10_000);
        await connectAll(receivers, kind, server.url, members - 1, [room]);
        await sender.call('connect', { kind, url: server.url, count: 1, rooms: [room], join: true, concurrency: 1 });
        // The joins' presence pushes (gif-chat sends a busy room's together, once a second) are not part of the burst.
        await settle(server, [sender, ...receivers], mode, pick(mode, 1000, 1000, 100), pick(mode, 10_000, 10_000, 1000));
        const calm = await round(server, sender, receivers, 0);
        const bad = await round(server, sender, receivers, Math.round(members * 0.05));
        await sleep(pick(mode, 2000, 2000, 200));
        return {
          calmP99: calm.p99,
          hostileP99: bad.p99,
          p99Ratio: bad.p99 / calm.p99,
          rssPeakMiB: Math.max(calm.peak, bad.peak) / 1024 / 1024,
          rssEndMiB: server.rss() / 1024 / 1024,
        };
      }),
    );
  },
};

const clusterFanout: Scenario = {
  name: 'cross-process fan-out',
  about:
    'the fan-out room (1000 members, 300 messages keeping 10 unacked, 5 runs) on 2 server processes, members spread over both; ' +
    'server CPU is the primary\'s and both workers\'; Redis and PostgreSQL CPU are their own rows; latency from send to receipt split by whether the receiver is on the sender\'s process',
  reps: 5,
  kinds: clusterKinds,
  metrics: [
    { key: 'deliveriesPerSec', label: 'deliveries/s', better: 'higher' },
    { key: 'cpuUsPerDelivery', label: 'server CPU µs/delivery (all processes)', better: 'lower' },
    { key: 'redisCpuUsPerDelivery', label: 'Redis CPU µs/delivery', better: 'lower' },
    { key: 'postgresCpuUsPerDelivery', label: 'PostgreSQL CPU µs/delivery', better: 'lower' },
    { key: 'writesPerDelivery', label: 'server write syscalls/delivery', better: 'lower' },
    { key: 'p99Same', label: 'p99 ms, receiver on the sender\'s process', better: 'lower' },
    { key: 'p99Cross', label: 'p99 ms, receiver on the other process', better: 'lower' },
    { key: 'crossPercent', label: 'deliveries to the other process %', better: 'higher' },
  ],
  async run(kind, mode) {
    const members = pick(mode, 1000, 1000, 20);
    const messages = pick(mode, 300, 300, 20);
    return withServer(kind, FAST_SENDER, (server) =>
      withWorkers(3, async ([sender, ...receivers]) => {
        const all = [sender, ...receivers];
        const [room] = await createRooms(sender, kind, server.url, 1, 10_000);
        await connectAll(receivers, kind, server.url, members - 1, [room]);
        await sender.call('connect', { kind, url: server.url, count: 1, rooms: [room], join: true, concurrency: 1 });
        await place(server, all);
        await settle(server, all, mode, pick(mode, 1000, 1000, 100), pick(mode, 10_000, 10_000, 1000));
        await Promise.all(all.map((w) => w.call('reset', {}).then(() => w.call('track', { latency: true, seqs: false }))));
        const cpu0 = server.cpuMs();
        const writes0 = server.writes();
        const services = serviceCpuSince(server);
        const burst = await sender.call('burst', { index: 0, count: messages, window: 10, size: 32 });
        const done = await waitForReceipts(all, messages * members, 60_000);
        const cpu = server.cpuMs() - cpu0;
        const writes = server.writes() - writes0;
        const used = services();
        const seconds = (done.lastReceipt - burst.start) / 1000;
        const { p99Same, p99Cross, crossPercent } = await splitLatency(all);
        return {
          deliveriesPerSec: done.received / seconds,
          cpuUsPerDelivery: (cpu * 1000) / done.received,
          redisCpuUsPerDelivery: perDelivery(used.redis, done.received),
          postgresCpuUsPerDelivery: perDelivery(used.postgres, done.received),
          writesPerDelivery: writes / done.received,
          p99Same,
          p99Cross,
          crossPercent,
          delivered: done.received,
        };
      }),
    );
  },
};

const clusterChatty: Scenario = {
  name: 'cross-process chatty rooms',
  about:
    'the chatty rooms (5000 clients in 500 rooms of 10, one message a second each, 30 s; quick 10 s) on 2 server processes, each room\'s members spread over both; ' +
    'latency from send to receipt split by whether the receiver is on the sender\'s process (the same-process and cross-process figures come from the same cell)',
  kinds: clusterKinds,
  metrics: [
    { key: 'p50', label: 'latency p50 ms', better: 'lower' },
    { key: 'p99', label: 'latency p99 ms', better: 'lower' },
    { key: 'p99Same', label: 'p99 ms, receiver on the sender\'s process', better: 'lower' },
    { key: 'p99Cross', label: 'p99 ms, receiver on the other process', better: 'lower' },
    { key: 'crossRatio', label: 'p99 other process / sender\'s process', better: 'lower' },
    { key: 'max', label: 'latency max ms', better: 'lower' },
    { key: 'cpuPercent', label: 'server CPU % (all processes)', better: 'lower' },
    { key: 'redisCpuPercent', label: 'Redis CPU %', better: 'lower' },
    { key: 'postgresCpuPercent', label: 'PostgreSQL CPU %', better: 'lower' },
    { key: 'generatorCpuPercent', label: 'load generators CPU % (of one core)', better: 'lower' },
    { key: 'crossPercent', label: 'deliveries to the other process %', better: 'higher' },
  ],
  async run(kind, mode) {
    const clients = pick(mode, 5000, 5000, 20);
    const durationMs = pick(mode, 30_000, 10_000, 500);
    return withServer(kind, {}, (server) =>
      withWorkers(2, async (workers) => {
        const rooms = await createRooms(workers[0], kind, server.url, clients / 10, 10);
        await connectAll(workers, kind, server.url, clients, rooms);
        await place(server, workers);
        await settle(server, workers, mode, pick(mode, 5000, 5000, 100), pick(mode, 20_000, 20_000, 1000));
        await Promise.all(workers.map((w) => w.call('reset', {}).then(() => w.call('track', { latency: true, seqs: false }))));
        const used = cpuSince(server, workers);
        const services = serviceCpuSince(server);
        const t0 = Date.now();
        const sent = await Promise.all(workers.map((w) => w.call('paced', { rate: 1, durationMs, tailMs: pick(mode, 500, 500, 200), endAtStop: mode === 'smoke' })));
        const cpu = used();
        const serviceCpu = services();
        const wall = Date.now() - t0;
        const acked = sent.reduce((a, s) => a + s.acked, 0);
        const done = await waitForReceipts(workers, acked * 10, 5000);
        return {
          p50: done.latency.percentile(50),
          p99: done.latency.percentile(99),
          ...(await splitLatency(workers)),
          max: done.latency.max,
          cpuPercent: (cpu.server / wall) * 100,
          redisCpuPercent: percentOf(serviceCpu.redis, wall),
          postgresCpuPercent: percentOf(serviceCpu.postgres, wall),
          generatorCpuPercent: (cpu.generators / wall) * 100,
          generatorLoopP99: done.loopP99,
          acked,
        };
      }),
    );
  },
};

const durablePostgres: Scenario = {
  name: 'durable throughput on PostgreSQL',
  about:
    '50 senders in their own rooms keeping 16 messages unacked, each message with a nonce of its own (the server checks it against the stored ones), against one gif-chat process ' +
    'on PostgreSQL (at its durable defaults: an ack means the commit was flushed to disk) and, in the same run, on SQLite (WAL, synchronous=NORMAL)',
  kinds: ['gif-chat-pg', 'gif-chat'],
  metrics: [
    { key: 'ackedPerSec', label: 'messages acked/s', better: 'higher' },
    { key: 'cpuUsPerAck', label: 'server CPU µs/ack', better: 'lower' },
    { key: 'postgresCpuUsPerAck', label: 'PostgreSQL CPU µs/ack', better: 'lower' },
    { key: 'cpuPercent', label: 'server CPU %', better: 'lower' },
    { key: 'postgresCpuPercent', label: 'PostgreSQL CPU %', better: 'lower' },
    { key: 'ackedPerTransaction', label: 'messages per PostgreSQL transaction', better: 'higher' },
  ],
  async run(kind, mode) {
    const senders = pick(mode, 50, 50, 2);
    const durationMs = pick(mode, 10_000, 5000, 800);
    return withServer(kind, FAST_SENDER, (server) =>
      withWorkers(2, async (workers) => {
        const rooms = await createRooms(workers[0], kind, server.url, senders, 10);
        const counts = split(senders, 2);
        await workers[1].call('connect', { kind, url: server.url, count: counts[1], rooms: rooms.slice(counts[0]), join: true, concurrency: 50 });
        await workers[0].call('connect', { kind, url: server.url, count: counts[0], rooms: rooms.slice(0, counts[0]), join: true, concurrency: 50 });
        // PostgreSQL's transaction count, read before and a second after (backends report it once a second), outside the CPU window.
        // A smoke run reads it without waiting: its 800 ms flood leaves the count to backends' idle reports (seconds later), so no
        // smoke run has a figure for it either way.
        await sleep(pick(mode, 1100, 1100, 0));
        const commits0 = server.commits();
        const cpu0 = server.cpuMs();
        const services = serviceCpuSince(server);
        const results = await Promise.all([
          workers[0].call('flood', { senders: counts[0], window: 16, durationMs, gapMs: 0, skip: 0, nonces: true }),
          workers[1].call('flood', { senders: counts[1], window: 16, durationMs, gapMs: 0, skip: 0, nonces: true }),
        ]);
        const cpu = server.cpuMs() - cpu0;
        const used = services();
        await sleep(commits0 === null ? 0 : pick(mode, 1100, 1100, 0));
        const commits = commits0 === null ? null : server.commits()! - commits0;
        const acked = results.reduce((a, r) => a + Object.values(r.acked).reduce((b, s) => b + s.length, 0), 0);
        const wall = Math.max(...results.map((r) => r.ms));
        return {
          ackedPerSec: acked / (wall / 1000),
          cpuUsPerAck: perDelivery(cpu, acked),
          postgresCpuUsPerAck: perDelivery(used.postgres, acked),
          cpuPercent: percentOf(cpu, wall),
          postgresCpuPercent: percentOf(used.postgres, wall),
          ackedPerTransaction: commits ? acked / commits : null,
          inFlight: senders * 16,
          acked,
          failed: results.reduce((a, r) => a + r.failed, 0),
        };
      }),
    );
  },
};

/** Every scenario, in report order. */
export const scenarios: Scenario[] = [fanout, chatty, idle, reconnect, durable, requestAck, hostile, clusterFanout, clusterChatty, durablePostgres, abuse];
