import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { ChatError } from '../protocol/errors';

const KEY_LENGTH = 32;

/** Hashes run at once by default: libuv's pool has 4 threads, the rest stay for files (GIFs, uploads). */
export const HASH_CONCURRENCY = 2;
/** Hashes waiting for a turn by default; past it a new one is refused as `unavailable`. */
export const HASH_QUEUE_MAX = 32;
/** What a refused hash tells the client to wait, in ms. */
export const HASH_RETRY_MS = 1000;

/**
 * A bounded line for password hashing (scrypt runs on libuv's thread pool, which file I/O
 * shares). Guarantees:
 * - at most `concurrency` hashes run at once, so guesses never hold the whole pool and
 *   reading files (serving GIFs) keeps threads;
 * - at most `maxWaiting` wait for a turn, served in arrival order; one more is refused at
 *   once with ChatError `unavailable` carrying `retryAfterMs` (nothing was hashed);
 * - a job's rejection is its caller's: the line goes on. `close()` refuses what waits.
 */
export class HashQueue {
  private running = 0;
  private readonly waiting: ((placed: boolean) => void)[] = [];
  private closed = false;

  constructor(
    readonly concurrency = HASH_CONCURRENCY,
    readonly maxWaiting = HASH_QUEUE_MAX,
  ) {}

  /** Hashes running now and waiting (for metrics and tests). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Runs `job` when its turn comes; rejects `unavailable` when the line is full or closed. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ChatError('unavailable', 'the server is shutting down', HASH_RETRY_MS);
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new ChatError('unavailable', 'too many password checks at once; try again in a moment', HASH_RETRY_MS);
      }
      // Woken with the place of a job that finished, or refused by close().
      const placed = await new Promise<boolean>((resolve) => this.waiting.push(resolve));
      if (!placed) throw new ChatError('unavailable', 'the server is shutting down', HASH_RETRY_MS);
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      // The place passes straight to the next in line (running stays the same).
      if (next) next(true);
      else this.running--;
    }
  }

  /** Refuses every waiting job (`unavailable`); running ones finish. */
  close(): void {
    this.closed = true;
    for (const next of this.waiting.splice(0)) next(false);
  }
}

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a room password with scrypt and a random salt: `scrypt$<salt>$<key>`, base64url. */
export async function hashPassword(password: string, queue?: HashQueue): Promise<string> {
  const salt = randomBytes(16);
  const key = await (queue ? queue.run(() => derive(password, salt)) : derive(password, salt));
  return `scrypt$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** True when `password` matches `hash` (constant-time comparison). */
export async function verifyPassword(password: string, hash: string, queue?: HashQueue): Promise<boolean> {
  const [scheme, salt, key] = hash.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await (queue ? queue.run(() => derive(password, Buffer.from(salt, 'base64url'))) : derive(password, Buffer.from(salt, 'base64url')));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
