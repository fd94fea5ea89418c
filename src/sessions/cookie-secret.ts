import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The file under DATA_DIR holding the secret the server made for itself. */
export const SECRET_FILE = 'cookie-secret';

const SHAPE = /^[0-9a-f]{64}$/;

/**
 * The cookie secret kept in `dataDir` (made once, 32 random bytes in hex, mode 0600), for
 * a server started without COOKIE_SECRET: sessions, and so every open tab's identity,
 * survive restarts. Several processes starting at once agree on one (the file is created
 * exclusively; the losers read the winner's). A file of another shape, or readable by
 * others, is refused with the path and what to do (a secret others could read is no secret).
 * Throws Error with a message for the operator.
 */
export function keptCookieSecret(dataDir: string): { secret: string; created: boolean; file: string } {
  const file = path.join(dataDir, SECRET_FILE);
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    const secret = randomBytes(32).toString('hex');
    fs.writeFileSync(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    return { secret, created: true, file };
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EEXIST') throw new Error(`cannot write ${file}: ${(err as Error).message} (set COOKIE_SECRET, or DATA_DIR to a writable folder)`);
  }
  const stat = fs.statSync(file);
  if ((stat.mode & 0o077) !== 0) {
    throw new Error(`${file} can be read by other users (mode ${(stat.mode & 0o777).toString(8)}): chmod 600 it, or set COOKIE_SECRET`);
  }
  let secret = fs.readFileSync(file, 'utf8').trim();
  // Another process is writing it right now: it appears whole within moments.
  for (let i = 0; secret === '' && i < 50; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    secret = fs.readFileSync(file, 'utf8').trim();
  }
  if (!SHAPE.test(secret)) throw new Error(`${file} does not hold a secret this server made (64 hex digits): remove it, or set COOKIE_SECRET`);
  return { secret, created: false, file };
}
