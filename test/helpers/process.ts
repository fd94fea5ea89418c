import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const running = new Set<ChildProcess>();

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
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: ServerProcess['exited'] } {
  const child = spawn(process.execPath, startArgs(), {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ACCESS_LOG: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => text, exited };
}

/** Starts the server process and waits until it listens. */
export async function startProcess(env: Record<string, string>): Promise<ServerProcess> {
  const p = launch(env);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${p.output()}`)), 15_000);
    const check = () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(p.output());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    p.child.stdout!.on('data', check);
    p.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited: ${p.output()}`));
    });
  });
  return { ...p, port };
}

/** Runs the server process expecting it to refuse to start; resolves with its exit code and output. */
export async function failedStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const p = launch(env);
  const { code } = await p.exited;
  return { code, output: p.output() };
}

afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
});
