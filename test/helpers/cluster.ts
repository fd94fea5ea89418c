import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { App, AppParts, PRESENCE_TTL_MS, buildApp } from '../../src/app';
import { Bus } from '../../src/bus/bus';
import { createMemoryBus } from '../../src/bus/memory-bus';
import { Config, defaults, makeConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { createMemoryPresence } from '../../src/presence/memory-presence';
import { Presence } from '../../src/presence/presence';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { Store } from '../../src/store/store';
import { tempDataDir } from './server';

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
  /** Restarts node i on the same shared state (a new process would: a fresh node id, a fresh store connection). */
  restart?(i: number): Promise<void>;
  /** Stops every node, then releases the shared state. Idempotent; done after each test anyway. */
  close(): Promise<void>;
}

/** A way to run a cluster: in this process (below), or real worker processes on PostgreSQL + Redis (part 2). */
export interface ClusterBackend {
  name: string;
  /** Starts `n` servers with the same config (defaults + overrides; one cookie secret, so a session works on every node). */
  start(n: number, overrides: Partial<Config>): Promise<Cluster>;
}

/** Runs every step even when one fails; rethrows the first failure afterwards. */
async function settleAll(steps: (() => Promise<unknown>)[]): Promise<void> {
  const results = await Promise.allSettled(steps.map((step) => step()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

const live = new Set<Cluster>();

/**
 * `n` apps in this process, as `n` worker processes would share state: one SQLite file with
 * one connection (openSqliteStore) per app, one memory bus, one memory presence, a distinct
 * node id per app, one data folder (uploads) and one cookie secret. Each app listens on
 * 127.0.0.1, port 0. Every cluster still running is closed after each test.
 */
export const inProcessBackend: ClusterBackend = {
  name: 'in-process (SQLite file, memory bus, memory presence)',
  async start(n, overrides) {
    const dataDir = overrides.dataDir ?? tempDataDir();
    const dbFile = path.join(dataDir, 'gif-chat.db');
    const cookieSecret = overrides.cookieSecret ?? randomBytes(32).toString('hex');
    const bus: Bus = createMemoryBus();
    const presence: Presence = createMemoryPresence({
      graceMs: overrides.presenceGraceMs ?? defaults.presenceGraceMs,
      ttlMs: PRESENCE_TTL_MS,
    });
    let generation = 0;

    /** Builds and starts app `i` (on `port`, or any port when it is taken or 0). */
    const startNode = async (i: number, port: number): Promise<ClusterNode> => {
      const nodeId = `node-${i}.${generation++}`;
      const attempt = async (listenPort: number) => {
        const store: Store = openSqliteStore(dbFile);
        const config = makeConfig({ host: '127.0.0.1', accessLog: false, ...overrides, cookieSecret, dataDir, port: listenPort });
        // Parts passed in stay the caller's (AppParts): stopping one app never closes what the others share.
        const parts: AppParts = { logger: silentLogger, store, bus, presence, nodeId };
        let app: App;
        try {
          app = await buildApp(config, parts);
        } catch (err) {
          await store.close();
          throw err;
        }
        try {
          return { app, store, port: await app.listen() };
        } catch (err) {
          await app.close().catch(() => {});
          await store.close();
          throw err;
        }
      };
      let started: { app: App; store: Store; port: number };
      try {
        started = await attempt(port);
      } catch (err) {
        if (port === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        started = await attempt(0);
      }
      const { app, store } = started;
      let stopping: Promise<void> | undefined;
      return {
        url: `http://127.0.0.1:${started.port}`,
        wsUrl: `ws://127.0.0.1:${started.port}`,
        // The app leaves a store it was handed open: its node closes it after the app.
        stop: () => (stopping ??= app.close().finally(() => store.close())),
      };
    };

    const nodes: ClusterNode[] = [];
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
          live.delete(cluster);
          // Apps first (they may still write and publish while closing), then what they shared.
          try {
            await settleAll(nodes.map((node) => () => node.stop()));
          } finally {
            await settleAll([() => bus.close(), () => presence.close()]);
          }
        })()),
    };
    live.add(cluster);
    try {
      for (let i = 0; i < n; i++) nodes.push(await startNode(i, 0));
    } catch (err) {
      await cluster.close().catch(() => {});
      throw err;
    }
    return cluster;
  },
};

afterEach(async () => {
  await settleAll([...live].map((cluster) => () => cluster.close()));
});
