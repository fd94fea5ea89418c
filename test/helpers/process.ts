import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
/** Processes killed after each test, and those kept until after the test file. */
const running = { test: new Set<ChildProcess>(), file: new Set<ChildProcess>() };

/** The arguments `npm start` gives node (package.json), e.g. `--max-semi-space-size=8 dist/src/main.js`. */
function startArgs(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [, ...args] = pkg.scripts.start.split(/\s+/);
  return args.map((arg) => (arg.startsWith('-') ? arg : path.join(root, arg)));
}

/** A server started as `npm start` starts it, in its own process. */
export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** Everything it (and its workers) wrote so far, stdout and stderr. */
  output: () => string;
  /**
   * The node ids that said they listen (`gif-chat <node id> listening on …`), in that order:
   * one for a single process; with WORKERS=N, one per worker started so far, replacements included.
   */
  nodes: () => string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** How long a process lives at most: until the end of the test (the default), or of the test file. */
export interface StartOptions {
  /** 'test': killed (SIGKILL) after the test if still running. 'file': kept until after the test file; the caller stops it. */
  lifetime?: 'test' | 'file';
  /** How many processes must say they listen before it counts as started: WORKERS=N under one primary, N. Default 1. */
  listening?: number;
  /** Starts it in a process group of its own (its pid is the group's id), as a terminal would: for signals sent to the group. */
  group?: boolean;
}

const LISTENING = /gif-chat (\S+) listening on http:\/\/[^:]+:(\d+)/g;

function launch(env: Record<string, string>, lifetime: 'test' | 'file' = 'test', group = false) {
  const child = spawn(process.execPath, startArgs(), {
    cwd: root,
    detached: group,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ACCESS_LOG: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const set = running[lifetime];
  set.add(child);
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      set.delete(child);
      resolve({ code, signal });
    }),
  );
  const output = () => text;
  const nodes = () => [...output().matchAll(LISTENING)].map((m) => m[1]);
  return { child, output, nodes, exited };
}

/** Starts the server process and waits until it (or, with `listening: N`, N of its workers) listens. */
export async function startProcess(env: Record<string, string>, options: StartOptions = {}): Promise<ServerProcess> {
  const count = options.listening ?? 1;
  const p = launch(env, options.lifetime, options.group);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start within 20 s: ${p.output()}`)), 20_000);
      const check = () => {
        const ports = [...p.output().matchAll(LISTENING)].map((m) => Number(m[2]));
        if (ports.length >= count) {
          clearTimeout(timer);
          resolve(ports[0]);
        }
      };
      p.child.stdout!.on('data', check);
      p.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`server exited: ${p.output()}`));
      });
    });
    return { ...p, port };
  } catch (err) {
    p.child.kill('SIGKILL');
    throw err;
  }
}

/** Runs the server process expecting it to refuse to start; resolves with its exit code and output. */
export async function failedStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const p = launch(env);
  const { code } = await p.exited;
  return { code, output: p.output() };
}

/** Stops a server process: SIGTERM (a graceful stop), SIGKILL if it has not exited after `graceMs`. */
export async function stopProcess(server: ServerProcess, graceMs = 15_000): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const timer = setTimeout(() => server.child.kill('SIGKILL'), graceMs);
  server.child.kill('SIGTERM');
  await server.exited;
  clearTimeout(timer);
}

/** The pid in a node id (`<hostname>-<pid>`). */
export function pidOf(node: string): number {
  return Number(node.slice(node.lastIndexOf('-') + 1));
}

/**
 * A TCP connection to 127.0.0.1:`port`, and the node id of the process serving it, asked
 * through `GET /healthz` on that very connection. Under one primary (WORKERS=N) a connection
 * belongs to the worker it was handed to, so a WebSocket upgraded on it (pass
 * `createConnection: () => socket` to the client) is served by that worker.
 */
export async function connectionTo(port: number, timeoutMs = 5000): Promise<{ node: string; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  const body = await new Promise<string>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = got.subarray(0, end).toString();
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!/^HTTP\/1\.1 200 /.test(head) || !length) return done(new Error(`/healthz answered ${head}`));
      if (got.length >= end + 4 + Number(length[1])) done(undefined, got.subarray(end + 4, end + 4 + Number(length[1])).toString());
    };
    const onEnd = (err?: Error) => done(err ?? new Error('the connection closed before /healthz answered'));
    const timer = setTimeout(() => done(new Error(`no /healthz answer within ${timeoutMs} ms`)), timeoutMs);
    function done(err?: Error, text?: string) {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onEnd).off('end', onEnd);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(text!);
    }
    socket.on('data', onData).on('error', onEnd).on('end', onEnd);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
  });
  return { node: (JSON.parse(body) as { node: string }).node, socket };
}

afterEach(() => {
  for (const child of running.test) child.kill('SIGKILL');
});

afterAll(() => {
  for (const child of running.file) child.kill('SIGKILL');
});
