import cluster, { Worker } from 'node:cluster';
import os from 'node:os';
import dotenv from 'dotenv';
import { Config, ConfigError, loadConfig } from './config';
import { consoleLogger as logger } from './logger';
import { keptCookieSecret } from './sessions/cookie-secret';

/** How long the primary waits before starting again a worker that died, doubling up to the max while they keep dying. */
const RESTART_MS = 500;
const RESTART_MAX_MS = 10_000;
/** How long the primary gives its workers to stop before killing them. */
const STOP_GRACE_MS = 15_000;

/** Reads the config from the environment (and .env); a bad value ends the process with one clear line. */
function config(): Config {
  dotenv.config({ quiet: true });
  try {
    const loaded = loadConfig(process.env, keptCookieSecret);
    if (cluster.isPrimary) for (const warning of loaded.warnings) logger.warn(warning);
    return loaded.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`gif-chat: cannot start: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

/** One server process: builds the app, listens (sharing the port with the other workers), stops on SIGINT/SIGTERM. */
async function serve(config: Config): Promise<void> {
  const nodeId = `${os.hostname()}-${process.pid}`;
  // Loaded here, not at the top: a cluster's primary only supervises and never loads the app.
  const { buildApp } = await import('./app');
  const app = await buildApp(config, { logger, nodeId });
  const port = await app.listen();
  const where = config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`;
  logger.info(`gif-chat ${nodeId} listening on http://${config.host}:${port} (${where}, ${config.redisUrl ? 'Redis' : 'in-process'} bus and presence)`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn(`${nodeId}: ${signal} again: exiting now, without waiting for the shutdown`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${nodeId}: ${signal}: shutting down (${signal} again to exit at once)`);
    app.close().then(
      () => {
        logger.info(`${nodeId}: stopped`);
        process.exit(0);
      },
      (err) => {
        logger.error(`${nodeId}: shutdown failed`, err);
        process.exit(1);
      },
    );
  };
  // Ctrl-C in a terminal signals the whole process group: a worker leaves it to its primary,
  // which stops the workers with SIGTERM (else the pair would count as a second signal).
  process.on('SIGINT', () => (cluster.isWorker ? undefined : stop('SIGINT')));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * The primary of WORKERS > 1: forks the workers (they share the port through node:cluster;
 * any of them serves any client), starts again one that dies, and on SIGINT/SIGTERM stops
 * them all before exiting.
 */
function supervise(config: Config): void {
  let stopping = false;
  let delay = RESTART_MS;
  const fork = () => cluster.fork();
  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) return;
    logger.warn(`worker ${worker.process.pid} died (${signal ?? `code ${code}`}); starting another in ${delay} ms`);
    setTimeout(fork, delay);
    delay = Math.min(RESTART_MAX_MS, delay * 2);
  });
  // A worker that stays up a while resets the back-off (one that died meanwhile does not: a crash loop keeps backing off).
  cluster.on('listening', (worker: Worker) =>
    setTimeout(() => {
      if (!worker.isDead()) delay = RESTART_MS;
    }, RESTART_MAX_MS).unref(),
  );
  // Every worker must sign sessions with the same secret (a random one, made once, when none is set).
  process.env.COOKIE_SECRET ||= config.cookieSecret;
  for (let i = 0; i < config.workers; i++) fork();
  logger.info(`gif-chat primary ${process.pid}: ${config.workers} workers on port ${config.port}`);

  const stop = (signal: string) => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (stopping) {
      logger.warn(`primary: ${signal} again: killing the workers and exiting now`);
      workers.forEach((w) => w.process.kill('SIGKILL'));
      process.exit(1);
    }
    stopping = true;
    logger.info(`primary: ${signal}: stopping the workers (${signal} again to exit at once)`);
    const stopped = () => {
      logger.info('primary: stopped');
      process.exit(0);
    };
    const killer = setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), STOP_GRACE_MS);
    let left = workers.length;
    if (left === 0) stopped();
    for (const worker of workers) {
      worker.once('exit', () => {
        if (--left === 0) {
          clearTimeout(killer);
          stopped();
        }
      });
      worker.process.kill('SIGTERM');
    }
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

const settings = config();
if (settings.workers > 1 && cluster.isPrimary) {
  supervise(settings);
} else {
  serve(settings).catch(async (err) => {
    // (The app's module is loaded by now, unless loading it is what failed.)
    const StartError = await import('./app').then((m) => m.StartError, () => undefined);
    // A known cause is one sentence naming the setting to change; anything else gets its stack.
    if (StartError && err instanceof StartError) console.error(`gif-chat: cannot start: ${err.message}`);
    else logger.error('start-up failed', err);
    process.exit(1);
  });
}
