import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, AppParts, buildApp } from '../../src/app';
import { Config, makeConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';

/** A running test server on 127.0.0.1, port 0. */
export interface TestServer {
  app: App;
  config: Config;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** Closes the server (idempotent); keeps the data folder. */
  stop(): Promise<void>;
}

const dirs: string[] = [];
const running = new Set<TestServer>();

/** A fresh data folder, removed after the test file. */
export function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gif-chat-test-'));
  dirs.push(dir);
  return dir;
}

/**
 * Builds and starts the real app on port 0 with quiet logs; stopped after each test. Parts
 * passed in are closed after the app (the app leaves the caller's parts open).
 */
export async function startServer(overrides: Partial<Config> = {}, parts: AppParts = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? tempDataDir();
  const config = makeConfig({ host: '127.0.0.1', port: 0, accessLog: false, ...overrides, dataDir });
  const app = await buildApp(config, { logger: silentLogger, ...parts });
  const port = await app.listen();
  const server: TestServer = {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    dataDir,
    stop: async () => {
      running.delete(server);
      await app.close();
      await parts.presence?.close();
      await parts.bus?.close();
      await parts.store?.close();
    },
  };
  running.add(server);
  return server;
}

afterEach(async () => {
  await Promise.all([...running].map((s) => s.stop()));
});

afterAll(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Makes a session like the lobby's script does (POST /session) and returns its cookie
 * (`name=value`) and the lobby page as that session sees it.
 */
export async function browserSession(url: string): Promise<{ cookie: string; html: string }> {
  const res = await fetch(`${url}/session`, { method: 'POST', headers: { origin: url } });
  const setCookie = res.headers.get('set-cookie');
  if (!setCookie) throw new Error('POST /session set no session cookie');
  const cookie = setCookie.split(';')[0];
  const page = await fetch(`${url}/`, { headers: { cookie } });
  return { cookie, html: await page.text() };
}

/** Limits lifted for tests whose clients send faster than a person (the rates' own tests keep the defaults). */
export const FAST_SENDER = { ratePerSec: 10_000, rateBurst: 10_000, userMessagesPerSec: 10_000, userMessagesBurst: 10_000 } as const;
