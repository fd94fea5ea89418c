import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDataDir } from './helpers/server';

jest.setTimeout(240_000);

const root = path.resolve(__dirname, '..');

describe('benchmark harness', () => {
  test('runs every scenario against all three servers in its smallest mode and writes the raw results', () => {
    const tsc = require.resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.bench.json'], { cwd: root, stdio: 'inherit' });
    const out = tempDataDir();
    execFileSync(process.execPath, [path.join(root, 'dist/bench/run.js'), '--smoke', '--out', out], { cwd: root, stdio: 'pipe', timeout: 200_000 });
    const result = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8'));
    expect(result.mode).toBe('smoke');
    expect(Object.keys(result.summary)).toEqual(['fan-out', 'chatty rooms', 'idle connections', 'reconnect storm', 'durable throughput', 'request/ack', 'hostile members']);
    for (const scenario of Object.values(result.summary) as Record<string, Record<string, number | null>>[]) {
      expect(Object.keys(scenario)).toEqual(['gif-chat', 'socket.io', 'bare-ws']);
    }
    // Work really happened: messages were delivered, acked and resumed without loss.
    expect(result.summary['fan-out']['gif-chat'].delivered).toBe(400);
    expect(result.summary['durable throughput']['gif-chat'].ackedPerSec).toBeGreaterThan(0);
    expect(result.summary['reconnect storm']['gif-chat']).toMatchObject({ missed: 0, doubled: 0 });
    // Latency was read from the send stamps of every server's receipts.
    for (const kind of ['gif-chat', 'socket.io', 'bare-ws']) expect(result.summary['chatty rooms'][kind].max).toBeGreaterThan(0);
  });
});
