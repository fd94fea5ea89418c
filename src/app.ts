import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { AddressInfo } from 'node:net';
import { Bus } from './bus/bus';
import { createMemoryBus } from './bus/memory-bus';
import { Chat } from './chat/chat';
import { Config } from './config';
import { Dispatcher } from './realtime/dispatcher';
import { CloseCode } from './protocol/errors';
import { Gateway } from './realtime/gateway';
import { handlers } from './realtime/handlers';
import { createHttpApp } from './web/http-app';
import { Logger, consoleLogger } from './logger';
import { createMetrics } from './web/metrics';
import { SessionIdentity } from './sessions/session-identity';
import { ChatSessionStore } from './sessions/session-store';
import { openSqliteStore } from './store/sqlite-store';
import { Store } from './store/store';

/** Optional parts; each has a working default. */
export interface AppParts {
  logger?: Logger;
  store?: Store;
  bus?: Bus;
}

/** A built server: not listening until `listen()`. */
export interface App {
  readonly server: http.Server;
  readonly chat: Chat;
  /** Listens on config.port/host (port 0 picks one); resolves with the port. */
  listen(): Promise<number>;
  /** The base URL once listening, e.g. http://127.0.0.1:8005. */
  url(): string;
  /**
   * Graceful stop: refuse new connections, commit pending writes (their acks go out),
   * close sockets with 1001, then release the bus and the store. Safe to call twice.
   */
  close(): Promise<void>;
}

/** The folder holding package.json, views/ and public/ (whether running from src/ or dist/). */
function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/** Wires the server from its config. Reads no environment and opens no port. */
export async function buildApp(config: Config, parts: AppParts = {}): Promise<App> {
  const logger = parts.logger ?? consoleLogger;
  fs.mkdirSync(config.dataDir, { recursive: true });
  const store = parts.store ?? openSqliteStore(path.join(config.dataDir, 'gif-chat.db'));
  const bus = parts.bus ?? createMemoryBus();
  const chat = await Chat.open({ config, store, bus, logger });
  const identity = new SessionIdentity(store, config.cookieSecret);
  const dispatcher = new Dispatcher(chat, identity, handlers, logger);
  const sessions = new ChatSessionStore(store);
  const metrics = createMetrics(chat, dispatcher);
  const http_ = createHttpApp({ config, chat, sessions, metrics: metrics.registry, logger, root: projectRoot() });
  const server = http.createServer(http_);
  const gateway = new Gateway(server, { config, chat, identity, dispatcher, logger });

  let closing: Promise<void> | undefined;
  const close = async () => {
    gateway.stopAccepting();
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    chat.beginShutdown();
    await chat.batcher.drain();
    await gateway.closeAll(CloseCode.goingAway, 'server shutting down', 2000);
    gateway.close();
    server.closeAllConnections();
    await serverClosed;
    await chat.close();
    sessions.close();
    metrics.close();
    await bus.close();
    await store.close();
  };

  return {
    server,
    chat,
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    url: () => {
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address === '::' ? '::1' : address.address}]` : address.address === '0.0.0.0' ? '127.0.0.1' : address.address;
      return `http://${host}:${address.port}`;
    },
    close: () => (closing ??= close()),
  };
}
