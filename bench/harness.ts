import { ChildProcess, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServerKind } from './clients';
import { childPids, cpuMs, rssBytes, socketOwners, treeCpuMs, writeSyscalls } from './proc-stats';
import { cell } from './services';
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

/** A server under test, in its own process (a cluster: its primary and workers). */
export interface RunningServer {
  kind: ServerKind;
  pid: number;
  url: string;
  /** The processes that hold client connections: the server itself, or a cluster's workers. */
  processes: number[];
  /** CPU ms used so far by the server: a cluster's primary and every worker. */
  cpuMs(): number;
  /** CPU ms used so far by the Redis and PostgreSQL it uses (null: it uses none). */
  serviceCpuMs(): { redis: number | null; postgres: number | null };
  /** Transactions committed in its PostgreSQL database so far (reported up to a second late), or null: it uses none. */
  commits(): number | null;
  /** Write system calls its processes (a cluster: primary and live workers) made so far. */
  writes(): number;
  /** For each client TCP port, the index in `processes` of the one holding its connection (-1: none). */
  nodeOf(clientPorts: number[]): number[];
  rss(): number;
  stop(): Promise<void>;
}

const gifChatMain = path.join(dist, 'src/main.js');
const socketIoPeer = path.join(dist, 'bench/peers/socketio-server.js');

/** How each kind runs: its entry, its processes, and the services it is given (a fresh database, an empty Redis). */
const deployments: Record<ServerKind, { entry: string; workers: number; postgres: boolean; redis: boolean }> = {
  'gif-chat': { entry: gifChatMain, workers: 1, postgres: false, redis: false },
  'socket.io': { entry: socketIoPeer, workers: 1, postgres: false, redis: false },
  'bare-ws': { entry: path.join(dist, 'bench/peers/bare-ws-server.js'), workers: 1, postgres: false, redis: false },
  'gif-chat-pg': { entry: gifChatMain, workers: 1, postgres: true, redis: false },
  'gif-chat-cluster': { entry: gifChatMain, workers: 2, postgres: true, redis: true },
  'socket.io-cluster': { entry: socketIoPeer, workers: 2, postgres: true, redis: true },
};

/** Whether any of `kinds` runs on PostgreSQL, on Redis. */
export function servicesOf(kinds: ServerKind[]): { postgres: boolean; redis: boolean } {
  return { postgres: kinds.some((k) => deployments[k].postgres), redis: kinds.some((k) => deployments[k].redis) };
}

/** What each kind is, for the report. */
export const kindLabels: Record<ServerKind, string> = {
  'gif-chat': 'gif-chat',
  'socket.io': 'Socket.IO',
  'bare-ws': 'bare ws',
  'gif-chat-pg': 'gif-chat on PostgreSQL',
  'gif-chat-cluster': 'gif-chat 2 processes',
  'socket.io-cluster': 'Socket.IO 2 processes',
};

/**
 * Starts a server the way a user starts it (gif-chat: `node dist/src/main.js`, its real
 * pipeline) on 127.0.0.1 with a fresh DATA_DIR. `env` may only raise limits a scenario
 * names; everything else stays at its default.
 */
export async function startServer(kind: ServerKind, env: Record<string, string> = {}): Promise<RunningServer> {
  const deployment = deployments[kind];
  const services = deployment.postgres || deployment.redis ? await cell(deployment.postgres, deployment.redis) : undefined;
  let server: RunningServer;
  try {
    server = await spawnServer(kind, env, services);
  } catch (err) {
    await services?.release();
    throw err;
  }
  running.add(server);
  const stop = server.stop;
  server.stop = () => stop().finally(() => running.delete(server));
  return server;
}

/** Servers started and not stopped yet. */
const running = new Set<RunningServer>();

/** Stops every server still running (the bench run was interrupted). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

async function spawnServer(kind: ServerKind, env: Record<string, string>, services: Awaited<ReturnType<typeof cell>> | undefined): Promise<RunningServer> {
  const deployment = deployments[kind];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${kind.replace(/\W/g, '')}-`));
  // BENCH_PROFILE_DIR=dir writes a V8 CPU profile of each server process there.
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  // BENCH_NODE_ARGS="--trace-gc" passes flags to the server's node (its output goes to BENCH_SERVER_LOG).
  if (process.env.BENCH_NODE_ARGS) profile.push(...process.env.BENCH_NODE_ARGS.split(' '));
  const child = spawn(process.execPath, [...startFlags(), ...profile, deployment.entry], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      COOKIE_SECRET: 'bench',
      ACCESS_LOG: 'false',
      // Every load generator connects from 127.0.0.1: thousands of sockets from one address.
      SOCKETS_PER_IP: '1000000',
      SOCKETS_PER_SESSION: '1000000',
      READ_BYTES_PER_SEC: '1073741824',
      ...(deployment.workers > 1 ? { WORKERS: String(deployment.workers) } : {}),
      ...(services?.databaseUrl ? { DATABASE_URL: services.databaseUrl } : {}),
      ...(services?.redisUrl ? { REDIS_URL: services.redisUrl } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  if (process.env.BENCH_SERVER_LOG) {
    const log = fs.createWriteStream(process.env.BENCH_SERVER_LOG);
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
  }
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  let processes: number[] = [];
  /** Kills the server and any worker left behind (only while that pid still runs this entry: pids are reused). */
  const killAll = () => {
    child.kill('SIGKILL');
    for (const p of processes) {
      try {
        if (p !== pid && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(deployment.entry)) process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  // Every process serving clients says it listens (a cluster's workers share one port).
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start: ${output}`)), 30_000);
    child.stdout!.on('data', () => {
      const ports = [...output.matchAll(/listening on http:\/\/[^:]+:(\d+)/g)].map((m) => Number(m[1]));
      if (ports.length >= deployment.workers) {
        clearTimeout(timer);
        resolve(ports[0]);
      }
    });
    void exited.then(() => reject(new Error(`${kind} exited: ${output}`)));
  }).catch((err) => {
    processes = childPids(pid);
    killAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  processes = deployment.workers > 1 ? childPids(pid) : [pid];
  if (processes.length !== deployment.workers) {
    killAll();
    throw new Error(`${kind}: expected ${deployment.workers} worker processes, found ${processes.length}`);
  }
  const clustered = deployment.workers > 1;
  return {
    kind,
    pid,
    url: `http://127.0.0.1:${port}`,
    processes,
    // A cluster counts its primary, its workers and any worker that ended (reaped by the primary).
    cpuMs: () => (clustered ? treeCpuMs(pid) : cpuMs(pid)),
    serviceCpuMs: () => services?.cpuMs() ?? { redis: null, postgres: null },
    commits: () => services?.commits() ?? null,
    writes: () => writeSyscalls(pid),
    nodeOf: (clientPorts) => socketOwners(processes, port, clientPorts),
    rss: () => (clustered ? [pid, ...processes] : [pid]).reduce((a, p) => a + rssBytes(p), 0),
    stop: async () => {
      child.kill('SIGTERM');
      // Unref'd: the wait bounds the stop, but must not keep the run alive 10 s after its end.
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      killAll();
      fs.rmSync(dataDir, { recursive: true, force: true });
      await services?.release();
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
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    this.child.kill('SIGKILL');
  }
}

/** Idle load workers kept for the next cell (see keepWorkers); undefined: every cell spawns its own. */
let kept: LoadWorker[] | undefined;

/**
 * From now on, workers outlive their cell: each is cleared (its clients dropped, its counters
 * reset) and given to the next cell, which saves a node start per worker and cell. `warm`
 * workers are spawned at once, to boot while the first server starts.
 */
export function keepWorkers(warm = 0): void {
  kept ??= [];
  while (kept.length < warm) kept.push(LoadWorker.spawn());
}

/** Stops the kept workers; every cell after spawns its own again. */
export async function stopKeptWorkers(): Promise<void> {
  const workers = kept ?? [];
  kept = undefined;
  await Promise.all(workers.map((w) => w.stop()));
}

/**
 * Runs `fn` with `n` workers: spawned for it and always stopped after, or (keepWorkers) taken
 * from the kept ones and, once `fn` succeeded and each is cleared, kept again. A worker whose
 * cell failed is stopped, never reused.
 */
export async function withWorkers<T>(n: number, fn: (workers: LoadWorker[]) => Promise<T>): Promise<T> {
  const reused = kept?.splice(0, n) ?? [];
  const workers = [...reused, ...Array.from({ length: n - reused.length }, () => LoadWorker.spawn())];
  let succeeded = false;
  try {
    const result = await fn(workers);
    succeeded = true;
    return result;
  } finally {
    await Promise.all(
      workers.map(async (w) => {
        if (succeeded && kept) {
          try {
            await w.call('clear', {});
            kept.push(w);
            return;
          } catch {
            // not cleared: stopped below
          }
        }
        await w.stop();
      }),
    );
  }
}

/** CPU the load generators used together, in ms so far: how busy the machine's other side was. */
export const generatorCpuMs = (workers: LoadWorker[]) => workers.reduce((a, w) => a + w.cpuMs(), 0);

/** Splits `total` into `parts` near-equal counts. */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
