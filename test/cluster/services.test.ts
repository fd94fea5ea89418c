import { servicesBackend } from '../helpers/cluster';
import { PostgresServer, RedisServer, startPostgres, startRedis } from '../helpers/services';
import { twoAppsScenarios } from './two-apps.test';

/**
 * The two-apps scenarios again, on real PostgreSQL and Redis: each app opens its own pool,
 * bus and presence from DATABASE_URL and REDIS_URL, as each worker process does.
 */
let postgres: PostgresServer;
let redis: RedisServer;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

twoAppsScenarios(servicesBackend(() => ({ postgres, redis })));
