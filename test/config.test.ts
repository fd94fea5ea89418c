import path from 'node:path';
import { ConfigError, defaults, loadConfig } from '../src/config';

describe('config', () => {
  test('defaults when nothing is set, with a warning about the random cookie secret', () => {
    const { config, warnings } = loadConfig({});
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
    });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      port: 9000, dataDir: '/tmp/x', cookieSecret: 's3cret', heartbeatMs: 1000, maxPayload: 2048, outboxLimit: 65536, ratePerSec: 5, rateBurst: 9,
      allowedOrigins: ['https://a.example', 'http://b.example:8080'], historyLimit: 20, resumeLimit: 500, kickBanMs: 1000, maxUploadBytes: 4096,
      trustProxy: true, accessLog: false, production: true,
    });
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
  ])('refuses %j naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(name);
  });
});
