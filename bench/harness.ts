import { ChildProcess, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServerKind } from './clients';
import { cpuMs, rssBytes } from './proc-stats';
import type { WorkerOps } from './worker';

const dist = path.resolve(__dirname, '..');

/**
 * The node flags of `npm start` (package.json), e.g. the young-generation size: every
 * server under test runs with them, so gif-chat runs as a user runs it and the peers
 * get the same runtime.
 */
export function startFlags(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(dist, '../package.json'), 'utf8')) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

/** A server under test, in its own process. */
export interface RunningServer {
  kind: ServerKind;
  pid: number;
  url: string;
  cpuMs(): number;
  rss(): number;
  stop(): Promise<void>;
}

const entry: Record<ServerKind, string> = {
  'gif-chat': path.join(dist, 'src/main.js'),
  'socket.io': path.join(dist, 'bench/peers/socketio-server.js'),
  'bare-ws': path.join(dist, 'bench/peers/bare-ws-server.js'),
};

/**
 * Starts a server the way a user starts it (gif-chat: `node dist/src/main.js`, its real
 * pipeline) on 127.0.0.1 with a fresh DATA_DIR. `env` may only raise limits a scenario
 * names; everything else stays at its default.
 */
export async function startServer(kind: ServerKind, env: Record<string, string> = {}): Promise<RunningServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${kind.replace(/\W/g, '')}-`));
  // BENCH_PROFILE_DIR=dir writes a V8 CPU profile of each server process there.
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  // BENCH_NODE_ARGS="--trace-gc" passes flags to the server's node (its output goes to BENCH_SERVER_LOG).
  if (process.env.BENCH_NODE_ARGS) profile.push(...process.env.BENCH_NODE_ARGS.split(' '));
  const child = spawn(process.execPath, [...startFlags(), ...profile, entry[kind]], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      COOKIE_SECRET: 'bench',
      ACCESS_LOG: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  if (process.env.BENCH_SERVER_LOG) child.stdout!.pipe(fs.createWriteStream(process.env.BENCH_SERVER_LOG));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start: ${output}`)), 20_000);
    child.stdout!.on('data', () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(() => reject(new Error(`${kind} exited: ${output}`)));
  });
  const pid = child.pid!;
  return {
    kind,
    pid,
    url: `http://127.0.0.1:${port}`,
    cpuMs: () => cpuMs(pid),
    rss: () => rssBytes(pid),
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type OpArgs<K extends keyof WorkerOps> = Parameters<WorkerOps[K]>[0];
type OpResult<K extends keyof WorkerOps> = Awaited<ReturnType<WorkerOps[K]>>;

/** A load worker process (bench/worker.ts), called over IPC. */
export class LoadWorker {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.error) w?.reject(new Error(msg.error));
      else w?.resolve(msg.result);
    });
    child.once('exit', () => {
      for (const w of this.waiting.values()) w.reject(new Error('worker exited'));
      this.waiting.clear();
    });
  }

  /** CPU time this worker process has used so far, in ms (from /proc). */
  cpuMs(): number {
    return cpuMs(this.child.pid!);
  }

  static spawn(): LoadWorker {
    // BENCH_WORKER_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" passes flags to each load worker's node.
    const execArgv = process.env.BENCH_WORKER_ARGS ? process.env.BENCH_WORKER_ARGS.split(' ') : [];
    const child = fork(path.join(dist, 'bench/worker.js'), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    if (process.env.BENCH_WORKER_NICE) os.setPriority(child.pid!, Number(process.env.BENCH_WORKER_NICE));
    return new LoadWorker(child);
  }

  call<K extends keyof WorkerOps>(op: K, args: OpArgs<K>): Promise<OpResult<K>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, op, args });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.disconnect();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    this.child.kill('SIGKILL');
  }
}

/** Spawns `n` workers, runs `fn`, and always stops them. */
export async function withWorkers<T>(n: number, fn: (workers: LoadWorker[]) => Promise<T>): Promise<T> {
  const workers = Array.from({ length: n }, () => LoadWorker.spawn());
  try {
    return await fn(workers);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** CPU the load generators used together, in ms so far: how busy the machine's other side was. */
export const generatorCpuMs = (workers: LoadWorker[]) => workers.reduce((a, w) => a + w.cpuMs(), 0);

/** Splits `total` into `parts` near-equal counts. */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
