import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { App, AppParts, PRESENCE_TTL_MS, buildApp } from '../../src/app';
import { Bus } from '../../src/bus/bus';
import { createMemoryBus } from '../../src/bus/memory-bus';
import { Config, defaults, makeConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { createMemoryLimiter } from '../../src/limits/memory-limiter';
import { createMemoryPresence } from '../../src/presence/memory-presence';
import { Presence } from '../../src/presence/presence';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { Store } from '../../src/store/store';
import { tempDataDir } from './server';
import { startProcess, stopProcess } from './process';
import { PostgresServer, RedisServer } from './services';

/** One server of a cluster, as its clients see it. */
export interface ClusterNode {
  url: string;
  wsUrl: string;
  /** Stops this server gracefully (idempotent); the others and the shared state stay. */
  stop(): Promise<void>;
}

/** Servers sharing one store, one bus and one presence: to clients, one server. */
export interface Cluster {
  /** The running servers. `restart(i)` replaces `nodes[i]` (read it again afterwards). */
  nodes: ClusterNode[];
  /**
   * Set when other tests use this cluster too (see `sharing`): it holds their rooms and users,
   * and a test must not count on it being empty, nor stop a node (`restart` leaves it whole).
   */
  shared?: boolean;
  /** Restarts node i on the same shared state (a new process would: a fresh node id, a fresh store connection). */
  restart?(i: number): Promise<void>;
  /** Stops every node, then releases the shared state. Idempotent; done after each test anyway. */
  close(): Promise<void>;
}

/** How a cluster is started. */
export interface ClusterStartOptions {
  /** Kept running after the test, until its `close()` (else after the test file): for a cluster several tests share. */
  lasting?: boolean;
  /** A cluster of the test's own, never shared (`sharing` starts one): for a test that stops or restarts nodes. */
  own?: boolean;
}

/** A way to run a cluster: in this process (below), or real server processes on PostgreSQL + Redis. */
export interface ClusterBackend {
  name: string;
  /** Starts `n` servers with the same config (defaults + overrides; one cookie secret, so a session works on every node). */
  start(n: number, overrides: Partial<Config>, options?: ClusterStartOptions): Promise<Cluster>;
  /** Stops what the backend keeps running from test to test (see `sharing`); called after the tests that use it. */
  release?(): Promise<void>;
}

/** Runs every step even when one fails; rethrows the first failure afterwards. */
async function settleAll(steps: (() => Promise<unknown>)[]): Promise<void> {
  const results = await Promise.allSettled(steps.map((step) => step()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Clusters closed after each test if still running, and lasting ones, closed after the test file. */
const live = new Set<Cluster>();
const lasting = new Set<Cluster>();

/**
 * A cluster of `n` nodes made by `startNode(i, port)` (port 0: any): `restart(i)` starts node
 * i again on its port, `close()` stops every node and then `closeShared()`. Closed after each
 * test if still running (a `lasting` one: after the test file). `parallel` starts the nodes
 * together (server processes; apps in this process start one after another).
 */
async function assemble(
  n: number,
  startNode: (i: number, port: number) => Promise<ClusterNode>,
  closeShared: () => Promise<void>,
  options: ClusterStartOptions & { parallel?: boolean } = {},
): Promise<Cluster> {
  const nodes: ClusterNode[] = [];
  const registry = options.lasting ? lasting : live;
  let closing: Promise<void> | undefined;
  const cluster: Cluster = {
    nodes,
    async restart(i) {
      const old = nodes[i];
      if (!old) throw new Error(`no node ${i}`);
      await old.stop();
      nodes[i] = await startNode(i, Number(new URL(old.url).port));
    },
    close: () =>
      (closing ??= (async () => {
        registry.delete(cluster);
        // Nodes first (they may still write and publish while closing), then what they shared.
        try {
          await settleAll(nodes.map((node) => () => node.stop()));
        } finally {
          await closeShared();
        }
      })()),
  };
  registry.add(cluster);
  try {
    if (options.parallel) {
      const started = await Promise.allSettled(Array.from({ length: n }, (_, i) => startNode(i, 0)));
      for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } else {
      for (let i = 0; i < n; i++) nodes.push(await startNode(i, 0));
    }
  } catch (err) {
    await cluster.close().catch(() => {});
    throw err;
  }
  return cluster;
}

/** What one node is built from: its parts, and how to release those the app does not close itself. */
interface NodeParts {
  parts: AppParts;
  config: Partial<Config>;
  release(): Promise<void>;
}

/**
 * Starts `n` apps in this process on shared state: `partsFor(nodeId)` gives each node its
 * parts and settings; `closeShared` releases what they all share, after every app stopped.
 * Every app listens on 127.0.0.1, port 0, with one data folder and one cookie secret.
 */
async function startApps(
  n: number,
  overrides: Partial<Config>,
  partsFor: (nodeId: string) => Promise<NodeParts>,
  closeShared: () => Promise<void>,
  options: ClusterStartOptions = {},
): Promise<Cluster> {
  const dataDir = overrides.dataDir ?? tempDataDir();
  const cookieSecret = overrides.cookieSecret ?? randomBytes(32).toString('hex');
  let generation = 0;

  /** Builds and starts app `i` (on `port`, or any port when it is taken or 0). */
  const startNode = async (i: number, port: number): Promise<ClusterNode> => {
    const nodeId = `node-${i}.${generation++}`;
    const attempt = async (listenPort: number) => {
      const node = await partsFor(nodeId);
      const config = makeConfig({ host: '127.0.0.1', accessLog: false, ...overrides, ...node.config, cookieSecret, dataDir, port: listenPort });
      let app: App;
      try {
        app = await buildApp(config, { logger: silentLogger, nodeId, ...node.parts });
      } catch (err) {
        await node.release();
        throw err;
      }
      try {
        return { app, node, port: await app.listen() };
      } catch (err) {
        await app.close().catch(() => {});
        await node.release();
        throw err;
      }
    };
    let started: { app: App; node: NodeParts; port: number };
    try {
      started = await attempt(port);
    } catch (err) {
      if (port === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      started = await attempt(0);
    }
    const { app, node } = started;
    let stopping: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${started.port}`,
      wsUrl: `ws://127.0.0.1:${started.port}`,
      // The app leaves parts it was handed open: its node releases them after the app.
      stop: () => (stopping ??= app.close().finally(() => node.release())),
    };
  };

  return assemble(n, startNode, closeShared, options);
}

/**
 * `n` apps in this process, as `n` worker processes would share state: one SQLite file with
 * one connection (openSqliteStore) per app, one memory bus, one memory presence, a distinct
 * node id per app, one data folder (uploads) and one cookie secret. Every cluster still
 * running is closed after each test.
 */
export const inProcessBackend: ClusterBackend = {
  name: 'in-process (SQLite file, memory bus, memory presence)',
  async start(n, overrides, options) {
    const dataDir = overrides.dataDir ?? tempDataDir();
    const bus: Bus = createMemoryBus();
    const presence: Presence = createMemoryPresence({ graceMs: overrides.presenceGraceMs ?? defaults.presenceGraceMs, ttlMs: PRESENCE_TTL_MS });
    // Apps of one process share their limits, as they share bus and presence.
    const limiter = createMemoryLimiter();
    return startApps(
      n,
      { ...overrides, dataDir },
      async () => {
        const store: Store = openSqliteStore(path.join(dataDir, 'gif-chat.db'));
        return { parts: { store, bus, presence, limiter }, config: {}, release: () => store.close() };
      },
      () => settleAll([() => bus.close(), () => presence.close(), () => limiter.close()]),
      options,
    );
  },
};

type Services = () => { postgres: PostgresServer; redis: RedisServer };

/**
 * A fresh database on the throwaway PostgreSQL and an emptied Redis: a cluster's shared state,
 * as settings. Redis is one per test file and has no per-cluster prefix: one cluster at a time.
 */
function freshState(services: Services, kind: string): { databaseUrl: string; redisUrl: string } {
  const { postgres, redis } = services();
  const { url } = postgres.createDatabase(`${kind}_${process.pid}_`);
  execFileSync('redis-cli', ['-p', String(redis.port), 'FLUSHALL'], { stdio: 'ignore' });
  return { databaseUrl: url, redisUrl: redis.url };
}

/**
 * `n` apps in this process, each opening its own PostgreSQL pool, Redis bus and Redis
 * presence from DATABASE_URL and REDIS_URL exactly as a worker process does: one fresh
 * database and an emptied Redis per cluster, on the throwaway servers `services()` gives.
 */
export function servicesBackend(services: Services): ClusterBackend {
  return {
    name: 'PostgreSQL + Redis, each app with its own connections',
    async start(n, overrides, options) {
      const shared = freshState(services, 'cluster');
      return startApps(
        n,
        overrides,
        async () => ({ parts: {}, config: shared, release: async () => {} }),
        async () => {},
        options,
      );
    },
  };
}

afterEach(async () => {
  await settleAll([...live].map((cluster) => () => cluster.close()));
});

afterAll(async () => {
  await settleAll([...lasting].map((cluster) => () => cluster.close()));
});

/** A config override as the environment variable the server reads (presenceGraceMs → PRESENCE_GRACE_MS). */
function toEnv(overrides: Partial<Config>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const name = key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
    env[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return env;
}

/**
 * The environment of server processes sharing a fresh state (a new database, an emptied Redis)
 * on the throwaway servers `services()` gives: the overrides as variables, with one data
 * folder and one cookie secret unless given.
 */
export function serverEnv(services: Services, overrides: Partial<Config> = {}): Record<string, string> {
  return toEnv({
    ...overrides,
    dataDir: overrides.dataDir ?? tempDataDir(),
    cookieSecret: overrides.cookieSecret ?? randomBytes(32).toString('hex'),
    ...freshState(services, 'procs'),
  });
}

/**
 * `n` real server processes, each started as `npm start` starts it (node dist/src/main.js,
 * WORKERS=1) on its own port, with DATABASE_URL and REDIS_URL on the throwaway servers
 * `services()` gives: one fresh database and an emptied Redis per cluster, one cookie secret
 * and data folder for all. They start together. A node's `stop()` is SIGTERM (a graceful
 * stop); `restart(i)` starts a new process on the same port.
 */
export function processBackend(services: Services): ClusterBackend {
  return {
    name: 'server processes on PostgreSQL + Redis',
    async start(n, overrides, options = {}) {
      const env = serverEnv(services, overrides);
      const startNode = async (port: number): Promise<ClusterNode> => {
        const server = await startProcess({ ...env, PORT: String(port) }, { lifetime: options.lasting ? 'file' : 'test' });
        return {
          url: `http://127.0.0.1:${server.port}`,
          wsUrl: `ws://127.0.0.1:${server.port}`,
          stop: () => stopProcess(server),
        };
      };
      return assemble(n, (_i, port) => startNode(port), async () => {}, { ...options, parallel: true });
    },
  };
}

/**
 * Shares clusters between tests, to start fewer: `start(n, overrides)` hands the test `n`
 * nodes of a cluster of `size` that keeps running from test to test while they ask for the
 * same overrides (`shared` is set: each test makes its own rooms and users, and others' may be
 * there). Tests take turns at which node comes first, so each node serves as A, as B, and so
 * on; `restart(i)` restarts that node of the shared cluster. Other overrides get another
 * cluster, after the previous one stopped (they would share Redis): order the tests so that
 * those with the same overrides follow each other. A test asking `own` (or more than `size`
 * nodes) gets a cluster of its own, as `backend` starts it, also after the shared one stopped.
 * `release()` stops the shared cluster.
 */
export function sharing(backend: ClusterBackend, size: number): ClusterBackend {
  let current: { key: string; cluster: Promise<Cluster> } | undefined;
  let turn = 0;
  const release = async () => {
    const previous = current;
    current = undefined;
    const cluster = await previous?.cluster.catch(() => undefined);
    await cluster?.close();
  };
  return {
    name: `${backend.name} (${size}, shared by the tests)`,
    release,
    async start(n, overrides, options = {}) {
      if (options.own || n > size) {
        await release();
        return backend.start(n, overrides, options);
      }
      const key = JSON.stringify(Object.entries(overrides).sort(([a], [b]) => a.localeCompare(b)));
      if (current?.key !== key) {
        await release();
        current = { key, cluster: backend.start(size, overrides, { lasting: true }) };
      }
      let cluster: Cluster;
      try {
        cluster = await current.cluster;
      } catch (err) {
        current = undefined;
        throw err;
      }
      const first = turn++ % size;
      const picked = Array.from({ length: n }, (_, i) => (first + i) % size);
      const restart = cluster.restart?.bind(cluster);
      const view: Cluster = {
        shared: true,
        nodes: picked.map((k) => cluster.nodes[k]),
        restart: restart
          ? async (i) => {
              await restart(picked[i]);
              view.nodes[i] = cluster.nodes[picked[i]];
            }
          : undefined,
        close: async () => {},
      };
      return view;
    },
  };
}
