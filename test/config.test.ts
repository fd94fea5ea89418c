import path from 'node:path';
import { ConfigError, defaults, loadConfig } from '../src/config';

describe('config', () => {
  test('defaults when nothing is set, with a warning about the random cookie secret', () => {
    const { config, warnings } = loadConfig({});
    expect(config).toMatchObject({ socketsPerIp: 50, socketsPerSession: 20, metricsToken: undefined, publicUrl: undefined, development: false });
    expect(config).toMatchObject({ port: 8005, heartbeatMs: 30_000, maxPayload: 65_536, outboxLimit: 1_048_576, ratePerSec: 20, rateBurst: 40, historyLimit: 50, allowedOrigins: [] });
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.cookieSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(warnings.join()).toContain('COOKIE_SECRET');
    expect(defaults.port).toBe(8005);
  });

  test('reads every variable', () => {
    const { config, warnings } = loadConfig({
      PORT: '9000', DATA_DIR: '/tmp/x', COOKIE_SECRET: 's3cret', HEARTBEAT_MS: '1000', MAX_PAYLOAD: '2048', OUTBOX_LIMIT: '65536',
      RATE_PER_SEC: '5', RATE_BURST: '9', ALLOWED_ORIGINS: 'https://a.example, http://b.example:8080/', HISTORY_LIMIT: '20',
      RESUME_LIMIT: '500', KICK_BAN_MS: '1000', MAX_UPLOAD_BYTES: '4096', TRUST_PROXY: 'true', ACCESS_LOG: 'off', NODE_ENV: 'production',
      PRESENCE_GRACE_MS: '5000', OWNER_AWAY_MS: '60000', ROOM_TTL_MS: '0', SWEEP_MS: '250',
      DATABASE_URL: 'postgres://chat:pw@db:5432/chat', REDIS_URL: 'redis://cache:6379', WORKERS: '3',
      SOCKETS_PER_IP: '7', SOCKETS_PER_SESSION: '3', METRICS_TOKEN: 'a'.repeat(32), PUBLIC_URL: 'https://Chat.Example.com/',
    });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      port: 9000, dataDir: '/tmp/x', cookieSecret: 's3cret', heartbeatMs: 1000, maxPayload: 2048, outboxLimit: 65536, ratePerSec: 5, rateBurst: 9,
      allowedOrigins: ['https://a.example', 'http://b.example:8080'], historyLimit: 20, resumeLimit: 500, kickBanMs: 1000, maxUploadBytes: 4096,
      trustProxy: true, accessLog: false, production: true,
      presenceGraceMs: 5000, ownerAwayMs: 60_000, roomTtlMs: 0, sweepMs: 250,
      databaseUrl: 'postgres://chat:pw@db:5432/chat', redisUrl: 'redis://cache:6379', workers: 3,
      socketsPerIp: 7, socketsPerSession: 3, metricsToken: 'a'.repeat(32), publicUrl: 'https://chat.example.com', development: false,
    });
    expect(loadConfig({ WORKERS: 'auto', DATABASE_URL: 'postgresql://h/db', REDIS_URL: 'rediss://h' }).config.workers).toBeGreaterThanOrEqual(1);
  });

  test('replies and the history cache: 256 KiB and 64 MiB by default; an unset MAX_REPLY_BYTES stays under a small OUTBOX_LIMIT', () => {
    expect(loadConfig({}).config).toMatchObject({ maxReplyBytes: 262_144, historyCacheBytes: 67_108_864 });
    expect(loadConfig({ OUTBOX_LIMIT: '65536' }).config.maxReplyBytes).toBe(16_384);
    expect(loadConfig({ MAX_REPLY_BYTES: '8192', HISTORY_CACHE_BYTES: '0' }).config).toMatchObject({ maxReplyBytes: 8192, historyCacheBytes: 0 });
  });

  test('every variable the server reads is in .env.example', () => {
    const example = require('node:fs').readFileSync(path.join(__dirname, '..', '.env.example'), 'utf8') as string;
    const source = require('node:fs').readFileSync(path.join(__dirname, '..', 'src', 'config.ts'), 'utf8') as string;
    const read = [...source.matchAll(/env(?:\.|, ')([A-Z_]+)/g)].map((m) => m[1]);
    expect(read.length).toBeGreaterThan(15);
    for (const name of new Set(read)) expect(example).toMatch(new RegExp(`^${name}=`, 'm'));
  });

  test.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ HEARTBEAT_MS: '0' }, 'HEARTBEAT_MS'],
    [{ RATE_PER_SEC: 'fast' }, 'RATE_PER_SEC'],
    [{ HISTORY_LIMIT: '101' }, 'HISTORY_LIMIT'],
    [{ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY'],
    [{ ALLOWED_ORIGINS: 'not a url' }, 'ALLOWED_ORIGINS'],
    [{ NODE_ENV: 'production' }, 'COOKIE_SECRET'],
    [{ NODE_ENV: 'production', COOKIE_SECRET: 's' }, 'PUBLIC_URL is required'],
    [{ PUBLIC_URL: 'chat.example.com' }, 'PUBLIC_URL'],
    [{ PUBLIC_URL: 'https://chat.example.com/app' }, 'PUBLIC_URL must be an origin'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN'],
    [{ SOCKETS_PER_IP: '0' }, 'SOCKETS_PER_IP'],
    [{ SOCKETS_PER_SESSION: 'many' }, 'SOCKETS_PER_SESSION'],
    [{ SWEEP_MS: '5' }, 'SWEEP_MS'],
    [{ DATABASE_URL: 'mysql://h/db' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ WORKERS: '0' }, 'WORKERS'],
    [{ PASSWORD_ATTEMPTS_PER_MINUTE: '0' }, 'PASSWORD_ATTEMPTS_PER_MINUTE'],
    [{ ROOMS_PER_USER: 'many' }, 'ROOMS_PER_USER'],
    [{ WORKERS: '2' }, 'WORKERS=2 needs DATABASE_URL and REDIS_URL'],
    [{ WORKERS: '2', REDIS_URL: 'redis://h' }, 'DATABASE_URL'],
    [{ MAX_REPLY_BYTES: '1048576' }, 'MAX_REPLY_BYTES (1048576) must be below OUTBOX_LIMIT (1048576)'],
    [{ MAX_REPLY_BYTES: '65536', OUTBOX_LIMIT: '32768' }, 'OUTBOX_LIMIT'],
    [{ HISTORY_CACHE_BYTES: '-1' }, 'HISTORY_CACHE_BYTES'],
  ])('refuses %j naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(name);
  });

  test('upload and storage limits: defaults, values, and refusals naming the variable', () => {
    const { config } = loadConfig({});
    expect(config).toMatchObject({ uploadsPerUser: 2, uploadsAtOnce: 64, uploadIdleMs: 30_000, uploadTimeoutMs: 120_000, uploadsPerDay: 500, uploadBytesPerDay: 200 * 1024 * 1024, storageMaxBytes: 0 });
    const set = loadConfig({ UPLOADS_PER_USER: '3', UPLOADS_AT_ONCE: '10', UPLOAD_IDLE_MS: '5000', UPLOAD_TIMEOUT_MS: '60000', UPLOADS_PER_DAY: '9', UPLOAD_BYTES_PER_DAY: '10485760', STORAGE_MAX_BYTES: '1073741824' }).config;
    expect(set).toMatchObject({ uploadsPerUser: 3, uploadsAtOnce: 10, uploadIdleMs: 5000, uploadTimeoutMs: 60_000, uploadsPerDay: 9, uploadBytesPerDay: 10 * 1024 * 1024, storageMaxBytes: 1024 ** 3 });
    expect(() => loadConfig({ UPLOADS_PER_USER: '0' })).toThrow(/UPLOADS_PER_USER/);
    expect(() => loadConfig({ STORAGE_MAX_BYTES: '-1' })).toThrow(/STORAGE_MAX_BYTES/);
    expect(() => loadConfig({ UPLOAD_BYTES_PER_DAY: '4096', MAX_UPLOAD_BYTES: '8192' })).toThrow(/UPLOAD_BYTES_PER_DAY.*MAX_UPLOAD_BYTES/);
    expect(config.historyDays).toBe(0);
    expect(loadConfig({ HISTORY_DAYS: '30' }).config.historyDays).toBe(30);
    expect(() => loadConfig({ HISTORY_DAYS: '-1' })).toThrow(/HISTORY_DAYS/);
  });
});
