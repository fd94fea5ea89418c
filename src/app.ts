import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { AddressInfo } from 'node:net';
// The Redis and PostgreSQL parts (and their client libraries, most of a start's module loading)
// are loaded only when REDIS_URL / DATABASE_URL ask for them: see the `await import`s below.
import { Bus } from './bus/bus';
import { createMemoryBus } from './bus/memory-bus';
import { Chat } from './chat/chat';
import { CACHE_PER_ROOM, HistoryCache } from './chat/history-cache';
import { Config } from './config';
import { Logger, consoleLogger, nodeLogger } from './logger';
import { createMemoryPresence } from './presence/memory-presence';
import { Limiter } from './limits/limiter';
import { createMemoryLimiter } from './limits/memory-limiter';
import { StorageBudget } from './limits/storage-budget';
import { Presence } from './presence/presence';
import { CloseCode } from './protocol/errors';
import { Dispatcher } from './realtime/dispatcher';
import { Gateway } from './realtime/gateway';
import { handlers } from './realtime/handlers';
import { Hub } from './realtime/hub';
import { SessionIdentity } from './sessions/session-identity';
import { ChatSessionStore } from './sessions/session-store';
import { FileGifStore } from './store/file-gif-store';
import { openSqliteStore } from './store/sqlite-store';
import { Store } from './store/store';
import { createHttpApp } from './web/http-app';
import { createMetrics } from './web/metrics';

/** How long a server's sockets count in presence after its last beat (it beats three times as often). */
export const PRESENCE_TTL_MS = 10_000;

/**
 * Optional parts; each has a working default. Parts passed in are the caller's: the app
 * does not close them (several apps may share one bus and one presence). Parts it made
 * itself, it closes.
 */
export interface AppParts {
  logger?: Logger;
  store?: Store;
  bus?: Bus;
  presence?: Presence;
  /** Counts for the abuse limits; default: in Redis with REDIS_URL, else in memory. */
  limiter?: Limiter;
  /** This process's id in presence, logs and /healthz; random when not given. */
  nodeId?: string;
}

/** A built server: not listening until `listen()`. */
export interface App {
  readonly server: http.Server;
  readonly chat: Chat;
  readonly hub: Hub;
  readonly store: Store;
  readonly nodeId: string;
  /** Listens on config.port/host (port 0 picks one); resolves with the port. */
  listen(): Promise<number>;
  /** The base URL once listening, e.g. http://127.0.0.1:8005. */
  url(): string;
  /**
   * Graceful stop: refuse new connections, commit pending writes (their acks go out),
   * close sockets with 1001, then release what the app opened. Safe to call twice.
   */
  close(): Promise<void>;
}

/** How long a graceful stop waits for requests already started to be answered. */
const SHUTDOWN_ANSWER_MS = 5000;

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

/** The server's version, from package.json. */
function packageVersion(): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/**
 * A server that cannot start, in one sentence for the operator: what failed, why, and which
 * setting to change. (main prints it as one line; tests see it as the rejection.)
 */
export class StartError extends Error {
  override name = 'StartError';
}

/** Runs one start-up step; a failure becomes a StartError saying `what`, the reason and `hint`. */
async function starting<T>(what: string, hint: string, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const reason = typeof e?.message === 'string' && e.message !== '' ? e.message.replace(/^[^:]*: (?=storage|bus|presence)/, '') : String(e?.code ?? err);
    throw new StartError(`${what}: ${reason} (${hint})`, { cause: err });
  }
}

/** Wires the server from its config. Reads no environment and opens no port. */
export async function buildApp(config: Config, parts: AppParts = {}): Promise<App> {
  const nodeId = parts.nodeId ?? `n_${randomBytes(6).toString('base64url')}`;
  const logger = nodeLogger(parts.logger ?? consoleLogger, nodeId);
  await starting(`DATA_DIR ${config.dataDir} cannot be used`, 'set DATA_DIR to a folder this user may write', () => fs.mkdirSync(config.dataDir, { recursive: true }));
  // Parts this app opens itself, closed in reverse order if a later step fails.
  const opened: { close(): Promise<void> }[] = [];
  const own = <T extends { close(): Promise<void> }>(part: T): T => {
    opened.push(part);
    return part;
  };
  let store: Store;
  let bus: Bus;
  let presence: Presence;
  let limiter: Limiter;
  try {
    const { databaseUrl, redisUrl } = config;
    const file = path.join(config.dataDir, 'gif-chat.db');
    store =
      parts.store ??
      own(
        databaseUrl
          ? await starting('cannot open PostgreSQL', 'check DATABASE_URL and that PostgreSQL is running', async () => (await import('./store/pg-store')).openPgStore(databaseUrl, { logger }))
          : await starting(`cannot open ${file}`, 'set DATA_DIR to a folder this user may write', () => openSqliteStore(file)),
      );
    bus = parts.bus ?? own(redisUrl ? await starting('cannot reach Redis', 'check REDIS_URL and that Redis is running', async () => (await import('./bus/redis-bus')).openRedisBus(redisUrl, { logger })) : createMemoryBus());
    const presenceOptions = { graceMs: config.presenceGraceMs, ttlMs: PRESENCE_TTL_MS };
    presence =
      parts.presence ??
      own(
        redisUrl
          ? await starting('cannot reach Redis', 'check REDIS_URL and that Redis is running', async () => (await import('./presence/redis-presence')).openRedisPresence(redisUrl, { ...presenceOptions, logger }))
          : createMemoryPresence(presenceOptions),
      );
    limiter =
      parts.limiter ??
      own(redisUrl ? await starting('cannot reach Redis', 'check REDIS_URL and that Redis is running', async () => (await import('./limits/redis-limiter')).openRedisLimiter(redisUrl, { logger })) : createMemoryLimiter());
  } catch (err) {
    for (const part of [...opened].reverse()) await part.close().catch(() => {});
    throw err;
  }
  const gifs = store.gifs ?? new FileGifStore(path.join(config.dataDir, 'uploads'));
  // The storage budget: measured every few seconds, asked (a cached boolean) per message and upload.
  const budget = new StorageBudget({ maxBytes: config.storageMaxBytes, measure: async () => (await store.usage()) + (await gifs.usage()), logger });
  await budget.start();
  const storageFull = () => budget.full();
  const history = new HistoryCache(store, CACHE_PER_ROOM, config.historyCacheBytes);
  const hub = await Hub.open({
    bus,
    store,
    history,
    logger,
    nodeId,
    outboxLimit: config.outboxLimit,
    ratePerSec: config.ratePerSec,
    rateBurst: config.rateBurst,
    // A user with sockets here was kicked: the ban covers their addresses too (chat logs a failure).
    onKicked: (room, addresses, until) => void chat.banAddresses(room, addresses, until),
  });
  const chat = new Chat({ config, store, bus, presence, history, gifs, logger, nodeId, beatMs: PRESENCE_TTL_MS / 3, audience: () => hub.size, limiter, storageFull });
  await chat.start();
  // Presence lost its state (Redis restarted empty): tell it again who is here and where.
  const stopReset = presence.onReset?.(() => {
    chat.restore(hub.sockets()).then(
      () => logger.warn(`presence was reset: registered this node's ${hub.size} sockets again`),
      (err) => logger.error('registering sockets again after a presence reset failed', err),
    );
  });
  const identity = new SessionIdentity(store, config.cookieSecret);
  const dispatcher = new Dispatcher(chat, hub, config, identity, handlers, logger);
  // Pages' sessions: connect-pg-simple on PostgreSQL; the chat's own store otherwise (same rows either way).
  const sessions = config.databaseUrl && !parts.store ? (await import('./sessions/pg-session-store')).openPgSessionStore(config.databaseUrl, logger) : new ChatSessionStore(store);
  const metrics = createMetrics(chat, hub, dispatcher, nodeId, history);
  const http_ = createHttpApp({
    config,
    chat,
    hub,
    gifs,
    health: {
      chat,
      hub,
      nodeId,
      version: packageVersion(),
      dependencies: { store: () => store.health(), bus: () => bus.health(), presence: () => presence.health(), limits: () => limiter.health() },
    },
    sessions,
    metrics: metrics.registry,
    logger,
    limiter,
    storageFull,
    root: projectRoot(),
  });
  const server = http.createServer(http_);
  const gateway = new Gateway(server, { config, chat, hub, identity, dispatcher, logger, limiter });

  let closing: Promise<void> | undefined;
  const close = async () => {
    gateway.stopAccepting();
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Frames not started are refused from now on; those started finish, so every write
    // committed has its ack handed to its socket before the 1001 close below.
    const answered = dispatcher.stop(SHUTDOWN_ANSWER_MS);
    await chat.drain();
    if (!(await answered)) logger.warn(`shutdown: requests still running after ${SHUTDOWN_ANSWER_MS} ms are cut off`);
    await chat.drain();
    await gateway.closeAll(CloseCode.goingAway, 'server shutting down', 2000);
    gateway.close();
    server.closeAllConnections();
    await serverClosed;
    stopReset?.();
    budget.close();
    await chat.close();
    hub.close();
    await sessions.close();
    metrics.close();
    for (const part of [...opened].reverse()) await part.close();
  };

  return {
    server,
    chat,
    hub,
    store,
    nodeId,
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => {
          const where = `port ${config.port} on ${config.host}`;
          if (err.code === 'EADDRINUSE') return reject(new StartError(`${where} is already in use (set PORT to a free port, or stop the server using it)`, { cause: err }));
          if (err.code === 'EACCES') return reject(new StartError(`not allowed to listen on ${where} (set PORT above 1023, or HOST)`, { cause: err }));
          if (err.code === 'EADDRNOTAVAIL') return reject(new StartError(`${config.host} is not an address of this machine (set HOST)`, { cause: err }));
          reject(err);
        });
        server.listen(config.port, config.host, () => {
          server.removeAllListeners('error');
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
