import { processBackend } from '../helpers/cluster';
import { PostgresServer, RedisServer, startPostgres, startRedis } from '../helpers/services';
import { twoAppsScenarios } from './two-apps.test';

/**
 * The two-apps scenarios once more, on real server processes: each node is `node
 * dist/src/main.js` (what `npm start` runs) with DATABASE_URL and REDIS_URL, clients on
 * different processes.
 */
let postgres: PostgresServer;
let redis: RedisServer;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

twoAppsScenarios(processBackend(() => ({ postgres, redis })));
