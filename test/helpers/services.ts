import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Throwaway Redis and PostgreSQL servers for tests: each on a free loopback port, with its
 * data in a temp dir, stopped (and the dir removed) by `stop()`. Start one per test file
 * (beforeAll) and stop it in afterAll. test/global-setup.js checks the programs exist.
 */

/** A free TCP port on 127.0.0.1 (free when asked; the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port; rejects after `timeoutMs`. */
async function waitForPort(port: number, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode} before accepting connections`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops a child process: `signal`, then SIGKILL after `graceMs`; resolves once it exited. */
function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** A running throwaway redis-server. */
export interface RedisServer {
  url: string;
  port: number;
  /** Stops it (its data is gone: it keeps nothing on disk). */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (a restart with its data lost). */
  start(): Promise<void>;
}

/** Starts `redis-server` on a free loopback port, keeping nothing on disk. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gif-chat-redis-'));
  let child: ChildProcess;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    });
    child.on('error', () => {});
    await waitForPort(port, child);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    kill: () => stopChild(child, 'SIGKILL'),
    stop: async () => {
      await stopChild(child, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The folder holding PostgreSQL's server programs (initdb, postgres), or undefined. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0], 'bin') : undefined;
}

/** A running throwaway PostgreSQL, with an ordinary role `chat` owning database `chat`. */
export interface PostgresServer {
  /** postgres://chat:chat@127.0.0.1:<port>/chat */
  url: string;
  port: number;
  /** Runs SQL as the superuser (for fault tests: terminating backends, and so on). */
  admin(sql: string): string;
  /** A new, empty database owned by the ordinary role `chat`: its URL and name (`<prefix><n>`). */
  createDatabase(prefix: string): { url: string; name: string };
  /** Stops the server (fast shutdown), keeping its data: `start()` brings it back. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  stop(): Promise<void>;
}

/**
 * Creates a cluster with initdb in a temp dir and starts `postgres` on a free loopback
 * port. initdb and postgres refuse to run as root: as root they run as the `postgres`
 * user, with the dir handed to it. fsync is off: these databases live for one test file.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL server programs not found under /usr/lib/postgresql (apt-get install -y postgresql)');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gif-chat-pg-'));
  const data = path.join(dir, 'data');
  const run = (program: string, args: string[]) => (asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]] : [path.join(bin, program), args]) as [string, string[]];
  if (asRoot) execFileSync('chown', ['postgres:', dir]);
  execFileSync(...run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']), { stdio: 'ignore' });
  let child: ChildProcess;
  const start = async () => {
    const [cmd, args] = run('postgres', ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']);
    child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', () => {});
    await waitForPort(port, child);
    // Accepting TCP is not accepting queries yet: wait until a query works.
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        admin('SELECT 1');
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const admin = (sql: string) =>
    execFileSync(path.join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  /** A fast shutdown through pg_ctl (a signal to runuser would not reach postgres), then the child's exit. */
  const halt = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      execFileSync(...run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '20', 'stop']), { stdio: 'ignore' });
    } catch {
      child.kill('SIGKILL');
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
  };
  await start();
  admin(`CREATE ROLE chat LOGIN PASSWORD 'chat'`);
  admin(`CREATE DATABASE chat OWNER chat`);
  let databases = 0;
  return {
    url: `postgres://chat:chat@127.0.0.1:${port}/chat`,
    port,
    admin,
    createDatabase: (prefix) => {
      const name = `${prefix}${++databases}`;
      admin(`CREATE DATABASE ${name} OWNER chat`);
      return { url: `postgres://chat:chat@127.0.0.1:${port}/${name}`, name };
    },
    start,
    halt,
    stop: async () => {
      await halt();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
