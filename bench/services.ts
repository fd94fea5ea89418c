/**
 * Throwaway Redis and PostgreSQL for the benchmark, started once per bench run (on first use)
 * and stopped at its end: the idea of test/helpers/services.ts, with PostgreSQL at its
 * durable defaults (fsync, synchronous_commit and full_page_writes on: an ack is a commit
 * that survives a crash of the machine). Each server under test gets a database of its own
 * and an empty Redis (see `cell`).
 */
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { treeCpuMs } from './proc-stats';

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, ready: () => boolean | Promise<boolean>, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} while starting`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

interface Service {
  url: string;
  /** CPU time (ms) the service's processes used so far, children included. */
  cpuMs(): number;
  stop(): Promise<void>;
}

async function startRedis(): Promise<Service & { flush(): Promise<void> }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  child.on('error', () => {});
  const stop = async () => {
    child.kill('SIGTERM');
    await exited(child, 10_000);
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('redis-server', () => accepts(port), child);
  } catch (err) {
    await stop();
    throw err;
  }
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    cpuMs: () => treeCpuMs(child.pid!),
    async flush() {
      const client = createClient({ url });
      await client.connect();
      await client.flushAll();
      await client.quit();
    },
    stop,
  };
}

/** The newest PostgreSQL server programs under /usr/lib/postgresql. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server programs not found under /usr/lib/postgresql (apt-get install -y postgresql)');
  return path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

async function startPostgres(): Promise<Service & { createDb(name: string): void; dropDb(name: string): void; commits(db: string): number; urlOf(db: string): string }> {
  const bin = postgresBin();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pg-'));
  const data = path.join(dir, 'data');
  // initdb and postgres refuse to run as root: as root they run as the `postgres` user, owning the dir.
  const asRoot = process.getuid?.() === 0;
  const run = (program: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]] : [path.join(bin, program), args];
  if (asRoot) execFileSync('chown', ['postgres:', dir]);
  // Not execFileSync: a run may start its services ahead of use (warmServices), and a cell runs meanwhile.
  await promisify(execFile)(...run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']));
  const child = spawn(...run('postgres', ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1']), { stdio: 'ignore' });
  child.on('error', () => {});
  /** A fast shutdown through pg_ctl (a signal to runuser would not reach postgres), immediate if that fails. */
  const stop = async () => {
    for (const mode of ['fast', 'immediate']) {
      try {
        execFileSync(...run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '20', 'stop']), { stdio: 'ignore' });
        break;
      } catch {
        // not running, or did not stop in time: try the next mode
      }
    }
    child.kill('SIGKILL');
    await exited(child, 10_000);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const admin = (sql: string) =>
    execFileSync(path.join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const works = () => {
    try {
      admin('SELECT 1');
      return true;
    } catch {
      return false;
    }
  };
  try {
    await waitFor('postgres', async () => (await accepts(port)) && works(), child);
    admin(`CREATE ROLE chat LOGIN PASSWORD 'chat'`);
  } catch (err) {
    await stop();
    throw err;
  }
  // The postmaster (its pid heads postmaster.pid; runuser is its parent): its backends are its children.
  const postmaster = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    url: `postgres://chat:chat@127.0.0.1:${port}/chat`,
    urlOf: (db) => `postgres://chat:chat@127.0.0.1:${port}/${db}`,
    cpuMs: () => treeCpuMs(postmaster),
    createDb: (name) => void admin(`CREATE DATABASE ${name} OWNER chat`),
    dropDb: (name) => void admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    commits: (name) => Number(admin(`SELECT xact_commit FROM pg_stat_database WHERE datname = '${name}'`).trim()),
    stop,
  };
}

let redis: Promise<Awaited<ReturnType<typeof startRedis>>> | undefined;
let postgres: Promise<Awaited<ReturnType<typeof startPostgres>>> | undefined;
let cells = 0;

/** What a server under test is given: its own database and/or an empty Redis, and their CPU meters. */
export interface Cell {
  databaseUrl?: string;
  redisUrl?: string;
  /** CPU ms used so far by Redis and by PostgreSQL (all its processes), or null when the cell has none. */
  cpuMs(): { redis: number | null; postgres: number | null };
  /**
   * Transactions committed in the cell's database so far (pg_stat_database), or null without
   * one. Backends report their counts at most once a second: read it a second after the work.
   */
  commits(): number | null;
  /** Drops the cell's database. */
  release(): Promise<void>;
}

/**
 * A fresh cell: a new database on the run's PostgreSQL when `pg`, and the run's Redis,
 * flushed, when `withRedis`. The services start on first use.
 */
export async function cell(pg: boolean, withRedis: boolean): Promise<Cell> {
  const p = pg ? await (postgres ??= startPostgres()) : undefined;
  const r = withRedis ? await (redis ??= startRedis()) : undefined;
  const db = `bench_${process.pid}_${++cells}`;
  p?.createDb(db);
  await r?.flush();
  return {
    databaseUrl: p?.urlOf(db),
    redisUrl: r?.url,
    cpuMs: () => ({ redis: r ? r.cpuMs() : null, postgres: p ? p.cpuMs() : null }),
    commits: () => (p ? p.commits(db) : null),
    release: async () => p?.dropDb(db),
  };
}

/**
 * Starts the services ahead of their first use, in the background (a smoke run: they come up
 * while the first cells run). A failure to start is left to `cell` to report.
 */
export function warmServices(pg: boolean, withRedis: boolean): void {
  if (pg) (postgres ??= startPostgres()).catch(() => {});
  if (withRedis) (redis ??= startRedis()).catch(() => {});
}

/** Stops whatever services this run started. Safe to call twice, and when none were. */
export async function stopServices(): Promise<void> {
  const started = [redis, postgres];
  redis = postgres = undefined;
  await Promise.all(started.map((s) => s?.then((x) => x.stop(), () => {})));
}
