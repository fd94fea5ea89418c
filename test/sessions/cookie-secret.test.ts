import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { keptCookieSecret } from '../../src/sessions/cookie-secret';
import { tempDir } from '../store/temp-dir';

describe('the cookie secret a development server keeps in DATA_DIR', () => {
  test('made once (64 hex digits, mode 0600), then reused', () => {
    const dir = path.join(tempDir(), 'data');
    const first = keptCookieSecret(dir);
    expect(first.created).toBe(true);
    expect(first.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
    const again = keptCookieSecret(dir);
    expect(again).toEqual({ ...first, created: false });
  });

  test('refused, with the path and what to do: a file others can read, a file of another shape', () => {
    const dir = tempDir();
    const { file } = keptCookieSecret(dir);
    fs.chmodSync(file, 0o644);
    expect(() => keptCookieSecret(dir)).toThrow(/cookie-secret can be read by other users \(mode 644\): chmod 600 it, or set COOKIE_SECRET/);
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, 'hunter2\n');
    expect(() => keptCookieSecret(dir)).toThrow(/does not hold a secret this server made/);
  });

  test('loadConfig uses it only without COOKIE_SECRET, and never in production', () => {
    const dir = tempDir();
    const kept = loadConfig({ DATA_DIR: dir }, keptCookieSecret);
    expect(kept.config.cookieSecret).toBe(fs.readFileSync(path.join(dir, 'cookie-secret'), 'utf8').trim());
    expect(kept.warnings.join()).toContain('made now and kept in');
    expect(loadConfig({ DATA_DIR: dir }, keptCookieSecret).warnings.join()).toMatch(/using the one kept in/);
    expect(loadConfig({ DATA_DIR: dir, COOKIE_SECRET: 'given' }, keptCookieSecret).config.cookieSecret).toBe('given');
    expect(() => loadConfig({ DATA_DIR: dir, NODE_ENV: 'production' }, keptCookieSecret)).toThrow(/COOKIE_SECRET is required/);
  });
});
