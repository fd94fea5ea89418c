import dotenv from 'dotenv';
import { buildApp } from './app';
import { ConfigError, loadConfig } from './config';
import { consoleLogger as logger } from './logger';

/** Starts the server from the environment (and .env), and stops it on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  dotenv.config({ quiet: true });
  let loaded;
  try {
    loaded = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`gif-chat: cannot start: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  for (const warning of loaded.warnings) logger.warn(warning);
  const { config } = loaded;
  const app = await buildApp(config, { logger });
  const port = await app.listen();
  logger.info(`gif-chat listening on http://${config.host}:${port} (data in ${config.dataDir})`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    app.close().then(
      () => process.exit(0),
      (err) => {
        logger.error('shutdown failed', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  logger.error('start-up failed', err);
  process.exit(1);
});
