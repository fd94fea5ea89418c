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
    expect(Object.keys(result.summary)).toEqual([
      'fan-out',
      'chatty rooms',
      'idle connections',
      'reconnect storm',
      'durable throughput',
      'request/ack',
      'hostile members',
      'cross-process fan-out',
      'cross-process chatty rooms',
      'durable throughput on PostgreSQL',
      'abuse',
    ]);
    const kinds = (name: string) => Object.keys(result.summary[name]);
    for (const name of ['fan-out', 'chatty rooms', 'idle connections', 'reconnect storm', 'durable throughput', 'request/ack', 'hostile members']) {
      expect(kinds(name)).toEqual(['gif-chat', 'socket.io', 'bare-ws']);
    }
    expect(kinds('cross-process fan-out').sort()).toEqual(['gif-chat', 'gif-chat-cluster', 'socket.io-cluster']);
    expect(kinds('durable throughput on PostgreSQL').sort()).toEqual(['gif-chat', 'gif-chat-pg']);
    expect(kinds('abuse')).toEqual(['gif-chat']);
    // Across processes, deliveries really crossed: some receivers were on the other process.
    expect(result.summary['cross-process fan-out']['gif-chat-cluster'].crossPercent).toBeGreaterThan(0);
    expect(result.summary['durable throughput on PostgreSQL']['gif-chat-pg'].ackedPerSec).toBeGreaterThan(0);
    // Work really happened: messages were delivered, acked and resumed without loss.
    expect(result.summary['fan-out']['gif-chat'].delivered).toBe(400);
    expect(result.summary['durable throughput']['gif-chat'].ackedPerSec).toBeGreaterThan(0);
    expect(result.summary['reconnect storm']['gif-chat']).toMatchObject({ missed: 0, doubled: 0 });
    // The abuse scenario measured the people calm and under every attack, and the server's memory.
    expect(kinds('abuse')).toEqual(['gif-chat']);
    const abuse = result.summary['abuse']['gif-chat'];
    for (const key of ['calmP99', 'floodP99', 'repliesP99', 'passwordsP99', 'uploadsP99', 'roomsP99', 'whispersP99', 'socketsP99', 'rssBaseMiB', 'rssAfterMiB']) expect(abuse[key]).toBeGreaterThan(0);
    // Latency was read from the send stamps of every server's receipts.
    for (const kind of ['gif-chat', 'socket.io', 'bare-ws']) expect(result.summary['chatty rooms'][kind].max).toBeGreaterThan(0);
  });
});
