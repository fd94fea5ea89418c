/**
 * `npm run bench [-- --quick | --smoke] [--only name] [--reps n] [--out dir]`: runs every
 * scenario against gif-chat, a Socket.IO 4 peer and a bare ws loop, one after another
 * on this machine, and writes the medians to docs/benchmarks.md and the raw runs to
 * bench/results/. Not a test: nothing here asserts a timing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServerKind } from './clients';
import { startFlags } from './harness';
import { Metrics, Mode, Scenario, scenarios } from './scenarios';

const allKinds: ServerKind[] = ['gif-chat', 'socket.io', 'bare-ws'];
/** BENCH_KINDS=gif-chat,bare-ws runs only those servers (for profiling one). */
const kinds: ServerKind[] = process.env.BENCH_KINDS ? allKinds.filter((k) => process.env.BENCH_KINDS!.split(',').includes(k)) : allKinds;
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

/** The scenarios this run covers: all, or those named by `--only` (a name or its start). */
const chosenScenarios = (args: Args): Scenario[] => scenarios.filter((s) => !args.only || s.name.startsWith(args.only));

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
type Summary = Record<string, Record<ServerKind, Record<string, number | null>>>;

interface Target {
  scenario: string;
  text: string;
  check(s: Summary): { met: boolean; detail: string } | undefined;
  /** Why it can be missed, from this run's figures (shown only when missed). */
  why?(s: Summary): string;
}

const get = (s: Summary, scenario: string, kind: ServerKind, key: string) => s[scenario]?.[kind]?.[key] ?? null;
const fmt = (n: number | null, digits = 2) => (n === null || !Number.isFinite(n) ? 'n/a' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits));

function ratioTarget(scenario: string, key: string, text: string, against: ServerKind, want: (r: number) => boolean): Target {
  return {
    scenario,
    text,
    check(s) {
      const ours = get(s, scenario, 'gif-chat', key);
      const theirs = get(s, scenario, against, key);
      if (ours === null || theirs === null || theirs === 0) return undefined;
      const r = ours / theirs;
      return { met: want(r), detail: `${fmt(r)}x` };
    },
  };
}

function valueTarget(scenario: string, key: string, text: string, want: (v: number) => boolean, unit = ''): Target {
  return {
    scenario,
    text,
    check(s) {
      const v = get(s, scenario, 'gif-chat', key);
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
];

/** "3 runs", or "3 runs (fan-out: 5)" when a scenario runs more. */
function runsText(args: Args): string {
  const plural = (n: number) => `${n} run${n > 1 ? 's' : ''}`;
  const base = baseRuns(args);
  const more = chosenScenarios(args).filter((s) => runsFor(args, s) !== base).map((s) => `${s.name}: ${runsFor(args, s)}`);
  return more.length ? `${plural(base)} (${more.join(', ')})` : plural(base);
}

function report(args: Args, summary: Summary, started: Date, seconds: number): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench${args.mode === 'full' ? '' : ` -- --${args.mode}`}\` on ${started.toISOString().slice(0, 10)}: ${os.cpus().length} cores (${cpu}), ` +
      `${Math.round(os.totalmem() / 1024 ** 3)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}. ` +
      `Mode \`${args.mode}\`, median of ${runsText(args)} per cell, ${Math.round(seconds)} s in all. Do not edit by hand: rerun the harness.`,
    '',
    'Servers, one after another in the same run, each in its own process on 127.0.0.1, load from separate worker processes:',
    `- **gif-chat**: as \`npm start\` runs it, without the build step (\`node ${startFlags().join(' ')} dist/src/main.js\`), with its defaults: envelope validation, SQLite persistence, ack after commit, seq order. The peers run with the same node flags.`,
    '- **Socket.IO**: Socket.IO 4 (websocket transport only) doing the same chat work with the same store call (`bench/peers/socketio-server.ts`).',
    '- **bare ws**: a `ws` broadcast loop with no protocol and no storage, corking each socket for one event-loop turn: the ceiling (`bench/peers/bare-ws-server.ts`).',
    '',
    'Fan-out, durable throughput, request/ack and hostile members raise RATE_PER_SEC and RATE_BURST (their senders go faster than a person); every other setting is the default.',
    'Server CPU and RSS are read from /proc for the server process.',
    '',
    '| scenario | metric | gif-chat | Socket.IO | bare ws | gif-chat / Socket.IO |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const scenario of scenarios) {
    if (!summary[scenario.name]) continue;
    for (const m of scenario.metrics) {
      const ours = get(summary, scenario.name, 'gif-chat', m.key);
      const sio = get(summary, scenario.name, 'socket.io', m.key);
      const bare = get(summary, scenario.name, 'bare-ws', m.key);
      const ratio = ours !== null && sio !== null && sio !== 0 ? `${fmt(ours / sio)}x` : 'n/a';
      lines.push(`| ${scenario.name} | ${m.label} (${m.better} is better) | ${fmt(ours)} | ${fmt(sio)} | ${fmt(bare)} | ${ratio} |`);
    }
  }
  lines.push('', '## Targets', '', '| scenario | target | measured | met |', '| --- | --- | ---: | :---: |');
  for (const t of targets) {
    if (!summary[t.scenario]) continue;
    const result = t.check(summary);
    lines.push(`| ${t.scenario} | ${t.text} | ${result?.detail ?? 'n/a'} | ${result ? (result.met ? 'yes' : '**no**') : 'n/a'} |`);
  }
  const missed = targets.filter((t) => summary[t.scenario] && t.check(summary)?.met === false && t.why);
  if (missed.length > 0) {
    lines.push('', '## Why targets were missed', '');
    for (const t of missed) lines.push(`- **${t.scenario}: ${t.text}** (measured ${t.check(summary)!.detail}). ${t.why!(summary)}`);
  }
  lines.push('', '## Scenarios', '');
  for (const s of scenarios) lines.push(`- **${s.name}**: ${s.about}.`);
  lines.push('', `Raw runs: \`bench/results/latest.json\`.`, '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const chosen = chosenScenarios(args);
  const raw: Record<string, Record<ServerKind, Metrics[]>> = {};
  const summary: Summary = {};
  for (const scenario of chosen) {
    raw[scenario.name] = { 'gif-chat': [], 'socket.io': [], 'bare-ws': [] };
    summary[scenario.name] = {} as Summary[string];
    const runs = runsFor(args, scenario);
    for (let rep = 0; rep < runs; rep++) {
      for (const kind of kinds) {
        const t0 = Date.now();
        const metrics = await scenario.run(kind, args.mode);
        raw[scenario.name][kind].push(metrics);
        console.log(`${scenario.name} [${kind}] run ${rep + 1}/${runs} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${JSON.stringify(metrics)}`);
      }
    }
    for (const kind of kinds) {
      const runs = raw[scenario.name][kind];
      const keys = Object.keys(runs[0] ?? {});
      summary[scenario.name][kind] = Object.fromEntries(
        keys.map((k) => {
          const values = runs.map((r) => r[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
          return [k, values.length ? median(values) : null];
        }),
      );
    }
  }
  const seconds = (Date.now() - started.getTime()) / 1000;
  const result = { started: started.toISOString(), mode: args.mode, reps: runsText(args), node: process.version, cores: os.cpus().length, seconds, summary, raw };
  fs.mkdirSync(args.out, { recursive: true });
  const json = JSON.stringify(result, null, 2);
  fs.writeFileSync(path.join(args.out, `${started.toISOString().replace(/[:.]/g, '-')}-${args.mode}.json`), json);
  fs.writeFileSync(path.join(args.out, 'latest.json'), json);
  const markdown = report(args, summary, started, seconds);
  if (args.docs) fs.writeFileSync(path.join(root, 'docs/benchmarks.md'), markdown);
  console.log(`\n${markdown}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
