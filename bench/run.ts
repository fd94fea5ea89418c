/**
 * `npm run bench [-- --quick | --smoke] [--only names] [--reps n] [--out dir] [--render]`: runs every
 * scenario against gif-chat, a Socket.IO 4 peer and a bare ws loop (and the cross-process
 * ones against both on 2 processes with Redis and PostgreSQL), one after another on this
 * machine, and writes the medians to docs/benchmarks.md and the raw runs to bench/results/.
 * `--only` (comma-separated names or starts of names) measures those scenarios again and
 * merges them into the previous results: the report keeps every other scenario's rows, each
 * marked with the run that measured it. Not a test: nothing here asserts a timing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServerKind } from './clients';
import { keepWorkers, kindLabels, servicesOf, startFlags, stopAllServers, stopKeptWorkers } from './harness';
import { baseKinds, clusterKinds, kindsOf, Metrics, Mode, Scenario, scenarios } from './scenarios';
import { stopServices, warmServices } from './services';

/** BENCH_KINDS=gif-chat,bare-ws runs only those servers (for profiling one). */
const kindsFor = (scenario: Scenario): ServerKind[] =>
  process.env.BENCH_KINDS ? kindsOf(scenario).filter((k) => process.env.BENCH_KINDS!.split(',').includes(k)) : kindsOf(scenario);
const root = path.resolve(__dirname, '../..');

interface Args {
  mode: Mode;
  only?: string;
  /** Runs per cell when given (`--reps n`); otherwise each scenario's own count (see runsFor). */
  reps?: number;
  out: string;
  docs: boolean;
}

function parseArgs(argv: string[]): Args {
  const has = (flag: string) => argv.includes(flag);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const mode: Mode = has('--smoke') ? 'smoke' : has('--quick') ? 'quick' : 'full';
  return {
    mode,
    only: value('--only'),
    reps: value('--reps') === undefined ? undefined : Number(value('--reps')),
    out: path.resolve(value('--out') ?? path.join(root, 'bench/results')),
    docs: mode !== 'smoke' && !has('--no-docs'),
  };
}

/**
 * The scenarios this run covers: all, or those named by `--only`: comma-separated names, each
 * the whole name of a scenario or else the start of one or more (`--only fan-out` is the
 * fan-out alone; `--only cross-process` both cross-process ones).
 */
function chosenScenarios(args: Args): Scenario[] {
  if (!args.only) return scenarios;
  const names = args.only.split(',').map((n) => n.trim()).filter(Boolean);
  return scenarios.filter((s) => names.some((n) => s.name === n || (!scenarios.some((x) => x.name === n) && s.name.startsWith(n))));
}

/** Runs per cell unless a scenario asks for more: `--reps`, else 1 in smoke mode, else 3. */
const baseRuns = (args: Args) => args.reps ?? (args.mode === 'smoke' ? 1 : 3);

/** Runs per cell: the base count, raised to the scenario's own when neither `--reps` nor smoke mode set it. */
const runsFor = (args: Args, scenario: Scenario) => (args.reps === undefined && args.mode !== 'smoke' ? Math.max(baseRuns(args), scenario.reps ?? 0) : baseRuns(args));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Per scenario and server: the median of each metric over the repetitions. */
type Summary = Record<string, Partial<Record<ServerKind, Record<string, number | null>>>>;
type Raw = Record<string, Partial<Record<ServerKind, Metrics[]>>>;

/** One bench invocation whose rows are in the results. */
interface RunInfo {
  started: string;
  command: string;
  mode: Mode;
  /** Runs per cell, as the report says it ("3 runs (fan-out: 5)"). */
  reps: string;
  seconds: number;
  /** The machine it ran on; fields missing from results written before they were recorded. */
  machine: { cores: number; cpu?: string; memGiB?: number; node: string; os?: string };
  /** The scenarios it measured. */
  scenarios: string[];
}

/** What bench/results/latest.json holds (the top-level fields describe the newest run). */
interface Results {
  started: string;
  mode: Mode;
  reps: string;
  node: string;
  cores: number;
  seconds: number;
  summary: Summary;
  raw: Raw;
  /** Every run whose rows are here, oldest first. */
  runs: RunInfo[];
  /** For each scenario, the index in `runs` of the run that measured it. */
  measuredBy: Record<string, number>;
}

interface Target {
  scenario: string;
  text: string;
  check(s: Summary): { met: boolean; detail: string } | undefined;
  /** Why it can be missed, from this run's figures (shown only when missed). */
  why?(s: Summary): string;
}

const get = (s: Summary, scenario: string, kind: ServerKind, key: string) => s[scenario]?.[kind]?.[key] ?? null;
const fmtPercent = (n: number | null) => (n === null ? 'n/a' : `${Math.round(n)}%`);
/** No figure here can be negative: one that is was misread (a cluster's CPU while a worker process ended mid-cell) and shows as n/a. */
const fmt = (n: number | null, digits = 2) => (n === null || !Number.isFinite(n) || n < 0 ? 'n/a' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits));

function ratioTarget(scenario: string, key: string, text: string, against: ServerKind, want: (r: number) => boolean, kind: ServerKind = 'gif-chat'): Target {
  return {
    scenario,
    text,
    check(s) {
      const ours = get(s, scenario, kind, key);
      const theirs = get(s, scenario, against, key);
      if (ours === null || theirs === null || theirs === 0) return undefined;
      const r = ours / theirs;
      return { met: want(r), detail: `${fmt(r)}x` };
    },
  };
}

function valueTarget(scenario: string, key: string, text: string, want: (v: number) => boolean, unit = '', kind: ServerKind = 'gif-chat'): Target {
  return {
    scenario,
    text,
    check(s) {
      const v = get(s, scenario, kind, key);
      if (v === null) return undefined;
      return { met: want(v), detail: `${fmt(v)}${unit}` };
    },
  };
}

/** Attaches an explanation to a target, shown in the report when the target is missed. */
const explained = (target: Target, why: (s: Summary) => string): Target => ({ ...target, why });

const chattyWhy = (s: Summary) =>
  `In the same run the bare ws ceiling, with no protocol and no storage, measured p99 ${fmt(get(s, 'chatty rooms', 'bare-ws', 'p99'))} ms. ` +
  `The load generators used ${fmt(get(s, 'chatty rooms', 'gif-chat', 'generatorCpuPercent'))}% of a core next to the server's ${fmt(get(s, 'chatty rooms', 'gif-chat', 'cpuPercent'))}%, ` +
  `and their own event-loop delay p99 was ${fmt(get(s, 'chatty rooms', 'gif-chat', 'generatorLoopP99'))} ms: the tail is spent waiting for one of the 2 cores and in GC pauses on both sides. ` +
  'A CPU profile of the server (`BENCH_PROFILE_DIR`) shows more than half of its busy time in write() syscalls, one per recipient per event-loop turn (rooms of 10 leave little to coalesce), and about a seventh in SQLite commits (each row dirties about two 4 KiB pages: rooms interleave). ' +
  'The slow receipts come in bursts that line up with the server\'s full (mark-compact) collections and with runs of 15-30 ms event-loop turns.';

const fanoutWhy = (s: Summary) =>
  `Socket.IO measured ${fmt(get(s, 'fan-out', 'socket.io', 'deliveriesPerSec'))} deliveries/s at ${fmt(get(s, 'fan-out', 'socket.io', 'cpuUsPerDelivery'))} µs each and gif-chat ${fmt(get(s, 'fan-out', 'gif-chat', 'cpuUsPerDelivery'))} µs: ` +
  'a CPU profile of the burst shows the server idle for about a third of it, waiting for the sender\'s next messages, while the two receiving load generators and the server share the 2 cores: the receivers, not the server, set the pace.';

const rssWhy = (s: Summary) =>
  `Bare ws, which holds only ws's own WebSocket, Receiver, Sender and net.Socket per connection, measured ${fmt(get(s, 'idle connections', 'bare-ws', 'rssKiBPerConnection'))} KiB; ` +
  'the rest is the connection, its user and room membership, and V8 heap not yet given back after the connect storm.';

const connectWhy = (s: Summary) =>
  `While connecting, the server used ${fmt(get(s, 'idle connections', 'gif-chat', 'connectCpuPercent'))}% of a core and the load generators ` +
  `${fmt(get(s, 'idle connections', 'gif-chat', 'connectGeneratorCpuPercent'))}% (Socket.IO: ${fmt(get(s, 'idle connections', 'socket.io', 'connectCpuPercent'))}% and ` +
  `${fmt(get(s, 'idle connections', 'socket.io', 'connectGeneratorCpuPercent'))}%): the generators, not the server, set the pace. ` +
  'Each join is announced to the room as a stored `joined` entry (both servers; gif-chat sends a busy room\'s joins together, once a second), and each join reply carries the members and 50 history entries.';

const clusterFanoutWhy = (s: Summary) => {
  const f = (kind: ServerKind, key: string) => fmt(get(s, 'cross-process fan-out', kind, key));
  return (
    `Socket.IO on 2 processes measured ${f('socket.io-cluster', 'deliveriesPerSec')} deliveries/s at ${f('socket.io-cluster', 'cpuUsPerDelivery')} µs of server CPU each ` +
    `(Redis ${f('socket.io-cluster', 'redisCpuUsPerDelivery')} µs, PostgreSQL ${f('socket.io-cluster', 'postgresCpuUsPerDelivery')} µs); ` +
    `gif-chat on 2 processes ${f('gif-chat-cluster', 'deliveriesPerSec')} at ${f('gif-chat-cluster', 'cpuUsPerDelivery')} µs ` +
    `(Redis ${f('gif-chat-cluster', 'redisCpuUsPerDelivery')} µs, PostgreSQL ${f('gif-chat-cluster', 'postgresCpuUsPerDelivery')} µs), ` +
    `with ${fmtPercent(get(s, 'cross-process fan-out', 'gif-chat-cluster', 'crossPercent'))} of its deliveries on the other process; ` +
    `gif-chat's one process on SQLite measured ${f('gif-chat', 'deliveriesPerSec')} deliveries/s at ${f('gif-chat', 'cpuUsPerDelivery')} µs in the same run. ` +
    `gif-chat made ${f('gif-chat-cluster', 'writesPerDelivery')} write system calls per delivery on 2 processes against ${f('gif-chat', 'writesPerDelivery')} on one: ` +
    'one process writes a committed batch of entries to each socket at once, while the entries that reach a process over Redis leave in more, smaller writes. ' +
    'Both server processes, their primary, Redis, PostgreSQL and the three load generators share the 2 cores.'
  );
};

const clusterChattyWhy = (s: Summary) => {
  const f = (key: string) => fmt(get(s, 'cross-process chatty rooms', 'gif-chat-cluster', key));
  return (
    `Receivers on the sender's process measured p99 ${f('p99Same')} ms, receivers on the other process ${f('p99Cross')} ms ` +
    `(${fmtPercent(get(s, 'cross-process chatty rooms', 'gif-chat-cluster', 'crossPercent'))} of deliveries crossed). ` +
    `Meanwhile the server processes used ${fmtPercent(get(s, 'cross-process chatty rooms', 'gif-chat-cluster', 'cpuPercent'))} of a core, Redis ${fmtPercent(get(s, 'cross-process chatty rooms', 'gif-chat-cluster', 'redisCpuPercent'))}, ` +
    `PostgreSQL ${fmtPercent(get(s, 'cross-process chatty rooms', 'gif-chat-cluster', 'postgresCpuPercent'))} and the load generators ${fmtPercent(get(s, 'cross-process chatty rooms', 'gif-chat-cluster', 'generatorCpuPercent'))}, on 2 cores; ` +
    `gif-chat's one process on SQLite measured p99 ${fmt(get(s, 'cross-process chatty rooms', 'gif-chat', 'p99'))} ms in the same run. ` +
    'A delivery to the other process goes through Redis (publish, then the other worker\'s subscriber) after the same commit as one on the sender\'s process.'
  );
};

const durablePostgresWhy = (s: Summary) => {
  const f = (kind: ServerKind, key: string) => fmt(get(s, 'durable throughput on PostgreSQL', kind, key));
  return (
    `gif-chat used ${fmtPercent(get(s, 'durable throughput on PostgreSQL', 'gif-chat-pg', 'cpuPercent'))} of a core and PostgreSQL ${fmtPercent(get(s, 'durable throughput on PostgreSQL', 'gif-chat-pg', 'postgresCpuPercent'))} ` +
    `(${f('gif-chat-pg', 'cpuUsPerAck')} µs of server CPU and ${f('gif-chat-pg', 'postgresCpuUsPerAck')} µs of PostgreSQL CPU per ack); ` +
    `the same process on SQLite acked ${f('gif-chat', 'ackedPerSec')}/s at ${f('gif-chat', 'cpuUsPerAck')} µs per ack in the same run. ` +
    `PostgreSQL counted ${f('gif-chat-pg', 'ackedPerTransaction')} messages per committed transaction (pg_stat_database) with ${get(s, 'durable throughput on PostgreSQL', 'gif-chat-pg', 'inFlight') ?? 'n/a'} in flight: ` +
    'the write batcher commits one batch at a time and what queues meanwhile becomes the next (group commit), so commits are few and large; ' +
    'the limit is CPU: the server, PostgreSQL and the load generators share the 2 cores, and each ack costs the server more on PostgreSQL (encoding the batch, parsing the reply) than on SQLite.'
  );
};

const targets: Target[] = [
  explained(ratioTarget('fan-out', 'deliveriesPerSec', 'deliveries/s at least 4x Socket.IO', 'socket.io', (r) => r >= 4), fanoutWhy),
  ratioTarget('fan-out', 'cpuUsPerDelivery', 'CPU per delivery at most 1/4 of Socket.IO', 'socket.io', (r) => r <= 0.25),
  ratioTarget('fan-out', 'deliveriesPerSec', 'deliveries/s at least half of bare ws', 'bare-ws', (r) => r >= 0.5),
  explained(valueTarget('chatty rooms', 'p99', 'p99 under 25 ms', (v) => v < 25, ' ms'), chattyWhy),
  explained(valueTarget('idle connections', 'rssKiBPerConnection', 'under 8 KiB RSS per connection', (v) => v < 8, ' KiB'), rssWhy),
  explained(ratioTarget('idle connections', 'connectsPerSec', 'connects at least 3x as fast as Socket.IO', 'socket.io', (r) => r >= 3), connectWhy),
  valueTarget('reconnect storm', 'catchUpMs', 'everyone caught up within 5 s', (v) => v <= 5000, ' ms'),
  valueTarget('reconnect storm', 'missed', 'zero lost', (v) => v === 0),
  valueTarget('reconnect storm', 'doubled', 'zero doubled', (v) => v === 0),
  valueTarget('durable throughput', 'ackedPerSec', 'at least 50,000 messages/s acked', (v) => v >= 50_000, '/s'),
  ratioTarget('request/ack', 'acksPerSec', 'at least 2x Socket.IO', 'socket.io', (r) => r >= 2),
  valueTarget('hostile members', 'p99Ratio', 'healthy p99 within 1.2x of calm', (v) => v <= 1.2, 'x'),
  valueTarget('abuse', 'worstRatio', "people's p99 under each attack within 2x of calm", (v) => v <= 2, 'x'),
  valueTarget('abuse', 'rssAfterRatio', 'server RSS after the attacks within 20% of before', (v) => v <= 1.2, 'x'),
  explained(
    ratioTarget('cross-process fan-out', 'deliveriesPerSec', 'gif-chat 2 processes: deliveries/s at least 3x Socket.IO 2 processes', 'socket.io-cluster', (r) => r >= 3, 'gif-chat-cluster'),
    clusterFanoutWhy,
  ),
  explained(
    ratioTarget('cross-process fan-out', 'cpuUsPerDelivery', 'gif-chat 2 processes: server CPU per delivery at most 1/4 of Socket.IO 2 processes', 'socket.io-cluster', (r) => r <= 0.25, 'gif-chat-cluster'),
    clusterFanoutWhy,
  ),
  explained(
    valueTarget('cross-process chatty rooms', 'crossRatio', 'gif-chat 2 processes: p99 on the other process within 2x of the sender\'s process', (v) => v <= 2, 'x', 'gif-chat-cluster'),
    clusterChattyWhy,
  ),
  explained(
    valueTarget('durable throughput on PostgreSQL', 'ackedPerSec', 'at least 20,000 messages/s acked on PostgreSQL', (v) => v >= 20_000, '/s', 'gif-chat-pg'),
    durablePostgresWhy,
  ),
];

/** Where each group of servers is reported: a table per group, in scenario order. */
const tables: { kinds: ServerKind[]; title: string; intro: string[] }[] = [
  { kinds: baseKinds, title: 'One process', intro: [] },
  {
    kinds: clusterKinds,
    title: 'Across processes',
    intro: [
      'gif-chat and Socket.IO each on 2 processes with Redis and PostgreSQL, next to gif-chat\'s one process on SQLite, in the same run. ' +
        'Server CPU sums the primary and both workers; Redis and PostgreSQL CPU are rows of their own. ' +
        '"p99 ms, receiver on the sender\'s process" and "on the other process" split the same cell\'s receipts (for one process every receiver is on the sender\'s).',
    ],
  },
  {
    kinds: ['gif-chat-pg', 'gif-chat'],
    title: 'Durable throughput on PostgreSQL',
    intro: ['One gif-chat process on PostgreSQL next to the same process on SQLite, in the same run; every message carries a nonce.'],
  },
];

const sameKinds = (a: ServerKind[], b: ServerKind[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/** "3 runs", or "3 runs (fan-out: 5)" when a chosen scenario runs more. */
function runsText(args: Args): string {
  const plural = (n: number) => `${n} run${n > 1 ? 's' : ''}`;
  const base = baseRuns(args);
  const more = chosenScenarios(args).filter((s) => runsFor(args, s) !== base).map((s) => `${s.name}: ${runsFor(args, s)}`);
  return more.length ? `${plural(base)} (${more.join(', ')})` : plural(base);
}

/** How this run was started, as a command to type again. */
function commandText(): string {
  const argv = process.argv.slice(2).map((a) => (/^[\w./=-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  const kinds = process.env.BENCH_KINDS ? `BENCH_KINDS=${process.env.BENCH_KINDS} ` : '';
  return `${kinds}npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
}

const runLetter = (index: number) => String.fromCharCode(65 + index);
const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function machineText(m: RunInfo['machine']): string {
  const known = [`${m.cores} cores${m.cpu ? ` (${m.cpu})` : ''}`, m.memGiB === undefined ? undefined : `${m.memGiB} GiB`, `Node ${m.node}`, m.os].filter(Boolean).join(', ');
  return m.cpu === undefined ? `${known} (CPU model, memory and OS not recorded)` : known;
}

function report(results: Results): string {
  const { summary, runs, measuredBy } = results;
  const shown = scenarios.filter((s) => summary[s.name]);
  const runOf = (name: string) => runLetter(measuredBy[name]);
  const lines = [
    '# Benchmarks',
    '',
    `Generated by the harness (\`npm run bench\`; \`--only\` measures some scenarios again and keeps the other rows). Do not edit by hand: rerun the harness. ` +
      (runs.length === 1
        ? 'Every row comes from one run:'
        : `The rows come from ${runs.length} runs (a run with \`--only\` keeps the rows it did not measure); each row names its run, and rows of different runs were not measured side by side:`),
    '',
  ];
  runs.forEach((run, i) => {
    const rows = shown.filter((s) => measuredBy[s.name] === i).map((s) => s.name);
    lines.push(
      `- **${runLetter(i)}**: \`${run.command}\` on ${when(run.started)}: ${machineText(run.machine)}. ` +
        `Mode \`${run.mode}\`, median of ${run.reps} per cell, ${Math.round(run.seconds)} s in all. Rows: ${rows.join(', ')}.`,
    );
  });
  lines.push(
    '',
    'Servers, one after another in the same run, each in its own process (or processes) on 127.0.0.1, load from separate worker processes:',
    `- **gif-chat**: as \`npm start\` runs it, without the build step (\`node ${startFlags().join(' ')} dist/src/main.js\`), with its defaults: envelope validation, SQLite persistence, ack after commit, seq order. The peers run with the same node flags. ` +
      '(`--max-semi-space-size=8`: 8 MB semispaces, where V8\'s default allows 16, keep an idle socket\'s memory low, yet are large enough that a message\'s objects die young instead of ' +
      'reaching the old generation, whose full collections stall every room: chatty-rooms p99 measured on this machine in an earlier session, about 35 ms with 4 MB, 24-32 ms with 8 MB, 32-40 ms with 16 MB.)',
    '- **Socket.IO**: Socket.IO 4 (websocket transport only) doing the same chat work with the same store call (`bench/peers/socketio-server.ts`).',
    '- **bare ws**: a `ws` broadcast loop with no protocol and no storage, corking each socket for one event-loop turn: the ceiling (`bench/peers/bare-ws-server.ts`).',
    '- **gif-chat 2 processes**: the same command with `WORKERS=2`, `DATABASE_URL` and `REDIS_URL`: a node:cluster primary and 2 workers sharing one port (the primary accepts each connection and hands it to a worker, round-robin: Node\'s default on Linux), the PostgreSQL store, the Redis bus and presence.',
    '- **Socket.IO 2 processes**: the Socket.IO peer as a node:cluster primary and 2 workers behind one port the same way, joined by `@socket.io/redis-adapter` on the same Redis (a node-redis client and its duplicate for subscriptions), storing through the same PostgreSQL store and write batcher as gif-chat, each room\'s members in a Redis hash.',
    '- **gif-chat on PostgreSQL**: one gif-chat process with `DATABASE_URL` (no Redis: the in-process bus and presence).',
    '',
    'Redis (`redis-server --save \'\' --appendonly no`) and PostgreSQL (the newest under /usr/lib/postgresql, at initdb\'s defaults: fsync, synchronous_commit and full_page_writes on) start once per run on 127.0.0.1 and stop at its end; ' +
      'each server using them gets a database of its own (created for it, dropped after) and an emptied Redis.',
    'Which process holds each client\'s connection is read from /proc (the server end\'s socket inode in /proc/net/tcp, found among each process\'s file descriptors); ' +
      'senders stamp their process into the message text, so each receipt is counted as on the sender\'s process or on the other one. "deliveries to the other process %" shows how the clients were spread.',
    '',
    'Fan-out, durable throughput, request/ack, hostile members and their cross-process and PostgreSQL variants raise RATE_PER_SEC and RATE_BURST (their senders go faster than a person); every scenario raises ROOMS_PER_USER and ROOM_CREATES_PER_HOUR (its setup creates rooms by the hundred from one address); every other setting is the default.',
    'Server CPU and RSS are read from /proc for the server process (a 2-process server: its primary and workers, workers that ended included); Redis and PostgreSQL CPU from /proc for redis-server and for the postmaster and every backend.',
  );
  const groups: { kinds: ServerKind[]; title: string; intro: string[]; scenarios: Scenario[] }[] = [];
  for (const scenario of shown) {
    const kinds = kindsOf(scenario);
    let group = groups.find((g) => sameKinds(g.kinds, kinds));
    if (!group) groups.push((group = { ...(tables.find((t) => sameKinds(t.kinds, kinds)) ?? { kinds, title: kinds.map((k) => kindLabels[k]).join(', '), intro: [] }), scenarios: [] }));
    group.scenarios.push(scenario);
  }
  for (const group of groups) {
    const [first, second] = group.kinds;
    lines.push('', `## ${group.title}`, '');
    if (group.intro.length) lines.push(...group.intro, '');
    // One server alone (the abuse scenario): no ratio column.
    const paired = second !== undefined;
    lines.push(
      `| scenario | metric | ${group.kinds.map((k) => kindLabels[k]).join(' | ')} |${paired ? ` ${kindLabels[first]} / ${kindLabels[second]} |` : ''} run |`,
      `| --- | --- | ${group.kinds.map(() => '---:').join(' | ')} |${paired ? ' ---: |' : ''} :---: |`,
    );
    for (const scenario of group.scenarios) {
      for (const m of scenario.metrics) {
        const values = group.kinds.map((k) => get(summary, scenario.name, k, m.key));
        const ratio = values[0] !== null && values[1] !== null && values[0] >= 0 && values[1] > 0 ? `${fmt(values[0] / values[1])}x` : 'n/a';
        lines.push(`| ${scenario.name} | ${m.label} (${m.better} is better) | ${values.map((v) => fmt(v)).join(' | ')} |${paired ? ` ${ratio} |` : ''} ${runOf(scenario.name)} |`);
      }
    }
  }
  lines.push('', '## Targets', '', '| scenario | target | measured | met | run |', '| --- | --- | ---: | :---: | :---: |');
  for (const t of targets) {
    if (!summary[t.scenario]) continue;
    const result = t.check(summary);
    lines.push(`| ${t.scenario} | ${t.text} | ${result?.detail ?? 'n/a'} | ${result ? (result.met ? 'yes' : '**no**') : 'n/a'} | ${runOf(t.scenario)} |`);
  }
  const missed = targets.filter((t) => summary[t.scenario] && t.check(summary)?.met === false && t.why);
  if (missed.length > 0) {
    lines.push('', '## Why targets were missed', '');
    for (const t of missed) lines.push(`- **${t.scenario}: ${t.text}** (measured ${t.check(summary)!.detail}; run ${runOf(t.scenario)}). ${t.why!(summary)}`);
  }
  lines.push('', '## Scenarios', '');
  for (const s of scenarios) {
    const measured = summary[s.name] ? ` (measured ${when(runs[measuredBy[s.name]].started)}, run ${runOf(s.name)})` : ' (not measured yet: `npm run bench -- --only` with its name)';
    lines.push(`- **${s.name}**${measured}: ${s.about}.`);
  }
  lines.push('', `Raw runs: \`bench/results/latest.json\`.`, '');
  return lines.join('\n');
}

/** A results file written before runs were recorded one by one: one run, its machine partly known. */
function legacyRun(prev: Results): RunInfo {
  return {
    started: prev.started,
    command: prev.mode === 'full' ? 'npm run bench' : `npm run bench -- --${prev.mode}`,
    mode: prev.mode,
    reps: prev.reps,
    seconds: prev.seconds,
    machine: { cores: prev.cores, node: prev.node },
    scenarios: Object.keys(prev.summary),
  };
}

/**
 * This run's results merged into the previous ones (an `--only` run): scenarios measured
 * now replace theirs; every other scenario keeps its rows and the run that measured them.
 */
function merge(prev: Results | undefined, run: RunInfo, summary: Summary, raw: Raw): Results {
  const runs: RunInfo[] = [];
  const measuredBy: Record<string, number> = {};
  const mergedSummary: Summary = {};
  const mergedRaw: Raw = {};
  const prevRuns = prev ? (prev.runs ?? [legacyRun(prev)]) : [];
  const prevBy = prev ? (prev.measuredBy ?? Object.fromEntries(Object.keys(prev.summary).map((name) => [name, 0]))) : {};
  for (const scenario of scenarios) {
    const name = scenario.name;
    if (summary[name]) {
      if (!runs.includes(run)) runs.push(run);
      measuredBy[name] = runs.indexOf(run);
      mergedSummary[name] = summary[name];
      mergedRaw[name] = raw[name];
    } else if (prev?.summary[name] && prevRuns[prevBy[name]]) {
      const from = prevRuns[prevBy[name]];
      if (!runs.includes(from)) runs.push(from);
      measuredBy[name] = runs.indexOf(from);
      mergedSummary[name] = prev.summary[name];
      mergedRaw[name] = prev.raw?.[name] ?? {};
    }
  }
  // Runs oldest first, so the letters read in time order.
  const order = [...runs].sort((a, b) => a.started.localeCompare(b.started));
  for (const name of Object.keys(measuredBy)) measuredBy[name] = order.indexOf(runs[measuredBy[name]]);
  return {
    started: run.started,
    mode: run.mode,
    reps: run.reps,
    node: run.machine.node,
    cores: run.machine.cores,
    seconds: run.seconds,
    summary: mergedSummary,
    raw: mergedRaw,
    runs: order,
    measuredBy,
  };
}

function readPrevious(file: string): Results | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Results;
  } catch {
    return undefined;
  }
}

async function measure(args: Args, chosen: Scenario[]): Promise<{ summary: Summary; raw: Raw }> {
  const raw: Raw = {};
  const summary: Summary = {};
  for (const scenario of chosen) {
    const kinds = kindsFor(scenario);
    raw[scenario.name] = Object.fromEntries(kinds.map((k) => [k, []]));
    summary[scenario.name] = {};
    const runs = runsFor(args, scenario);
    for (let rep = 0; rep < runs; rep++) {
      for (const kind of kinds) {
        const t0 = Date.now();
        const metrics = await scenario.run(kind, args.mode);
        raw[scenario.name][kind]!.push(metrics);
        console.log(`${scenario.name} [${kind}] run ${rep + 1}/${runs} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${JSON.stringify(metrics)}`);
      }
    }
    for (const kind of kinds) {
      const runs = raw[scenario.name][kind]!;
      const keys = Object.keys(runs[0] ?? {});
      summary[scenario.name][kind] = Object.fromEntries(
        keys.map((k) => {
          const values = runs.map((r) => r[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
          return [k, values.length ? median(values) : null];
        }),
      );
    }
  }
  return { summary, raw };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // `--render`: writes docs/benchmarks.md again from the last results, measuring nothing.
  if (process.argv.includes('--render')) {
    const previous = readPrevious(path.join(args.out, 'latest.json'));
    if (!previous) throw new Error(`--render: no results in ${args.out}`);
    fs.writeFileSync(path.join(root, 'docs/benchmarks.md'), report(previous));
    return;
  }
  const started = new Date();
  const chosen = chosenScenarios(args);
  if (chosen.length === 0) throw new Error(`--only ${args.only}: no such scenario (${scenarios.map((s) => s.name).join(', ')})`);
  // Redis and PostgreSQL start on first use; stop them (and a server under test) however the run ends.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping the servers and services`);
      void stopAllServers()
        .then(stopKeptWorkers)
        .then(stopServices)
        .finally(() => process.exit(130));
    });
  }
  // A smoke run keeps its load workers from cell to cell (a node start each saved) and starts
  // Redis and PostgreSQL while its first cells run; the measuring modes give every cell fresh
  // workers, so no cell inherits another's heap, and start the services between cells.
  if (args.mode === 'smoke') {
    keepWorkers(3);
    const needed = servicesOf(chosen.flatMap(kindsFor));
    warmServices(needed.postgres, needed.redis);
  }
  let measured: { summary: Summary; raw: Raw };
  try {
    measured = await measure(args, chosen);
  } finally {
    await stopKeptWorkers();
    await stopServices();
  }
  const seconds = (Date.now() - started.getTime()) / 1000;
  const run: RunInfo = {
    started: started.toISOString(),
    command: commandText(),
    mode: args.mode,
    reps: runsText(args),
    seconds,
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? 'unknown CPU',
      memGiB: Math.round(os.totalmem() / 1024 ** 3),
      node: process.version,
      os: `${os.platform()} ${os.release()}`,
    },
    scenarios: chosen.map((s) => s.name),
  };
  fs.mkdirSync(args.out, { recursive: true });
  const latest = path.join(args.out, 'latest.json');
  // A partial run keeps the previous rows of the scenarios it did not measure.
  const previous = args.only ? readPrevious(latest) : undefined;
  const results = merge(previous, run, measured.summary, measured.raw);
  fs.writeFileSync(path.join(args.out, `${started.toISOString().replace(/[:.]/g, '-')}-${args.mode}.json`), JSON.stringify(merge(undefined, run, measured.summary, measured.raw), null, 2));
  fs.writeFileSync(latest, JSON.stringify(results, null, 2));
  const markdown = report(results);
  if (args.docs) fs.writeFileSync(path.join(root, 'docs/benchmarks.md'), markdown);
  console.log(`\n${markdown}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
