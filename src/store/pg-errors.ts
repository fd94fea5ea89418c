import { ChatError, fail } from '../protocol/errors';

/**
 * What PostgreSQL's and node-postgres's errors mean to the chat: a storage failure
 * (ChatError `unavailable`, with a reason anyone may read: retry later) or a bug (a plain
 * Error). Shared by everything that talks to PostgreSQL (the store, the HTTP sessions), so
 * no driver error crosses a seam.
 */

/** SQLSTATEs (exact, or a class by its first two characters) that mean the storage failed, with a reason anyone may read. */
const stateReasons: ReadonlyArray<readonly [string, string]> = [
  ['53100', 'the disk is full'],
  ['53200', 'the database is out of memory'],
  ['53300', 'the database has too many connections'],
  ['53', 'the database is out of resources'],
  ['57014', 'the database took too long'], // statement timeout (or a cancel)
  ['55P03', 'the data stayed locked too long'], // lock timeout
  ['57P01', 'the connection to the database was lost'], // admin shutdown, pg_terminate_backend
  ['57P02', 'the connection to the database was lost'], // crash shutdown
  ['57P03', 'the database is starting up or shutting down'],
  ['57P05', 'the connection to the database was lost'], // idle session timeout
  ['25P03', 'the database took too long'], // idle-in-transaction timeout
  ['25006', 'the database is read-only'],
  ['40001', 'the data stayed locked too long'], // serialization failure, after retries
  ['40P01', 'the data stayed locked too long'], // deadlock, after retries
  ['08', 'the connection to the database was lost'],
  ['58', 'the database had an I/O error'],
  ['XX001', 'the database is damaged'],
  ['XX002', 'the database is damaged'],
];

/** Node's socket error codes that mean the database cannot be reached. */
const socketReasons: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the database refuses connections',
  ECONNRESET: 'the connection to the database was lost',
  EPIPE: 'the connection to the database was lost',
  ETIMEDOUT: 'the database cannot be reached',
  EHOSTUNREACH: 'the database cannot be reached',
  ENETUNREACH: 'the database cannot be reached',
  EHOSTDOWN: 'the database cannot be reached',
  ENOTFOUND: 'the database host is unknown',
  EAI_AGAIN: 'the database host is unknown',
};

/** pg's own messages (it has no codes for these) that mean the connection failed or timed out. */
const messageReasons: ReadonlyArray<readonly [RegExp, string]> = [
  // pg-pool's words for both a slow connect and a pool whose connections all stayed busy.
  [/timeout exceeded when trying to connect|connection timeout/i, 'no database connection within the time allowed'],
  [/Query read timeout/, 'the database took too long'],
  [/Connection terminated|not queryable|Connection closed/i, 'the connection to the database was lost'],
];

/** Why the storage is unavailable, or undefined when `err` is not a failure of the storage. */
function unavailableReason(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code.length === 5) {
      for (const [state, reason] of stateReasons) if (code.startsWith(state)) return reason;
    }
    if (socketReasons[code] !== undefined) return socketReasons[code];
  }
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message === 'string') {
    for (const [pattern, reason] of messageReasons) if (pattern.test(message)) return reason;
  }
  return undefined;
}

/** The connection broke under a query (the query may not have run): worth one more try on a fresh connection. */
export function connectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === '57P01' || code === '57P02' || code === '57P05' || code === 'ECONNRESET' || code === 'EPIPE') return true;
  if (typeof code === 'string' && code.startsWith('08')) return true;
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && /Connection terminated unexpectedly|not queryable/.test(message);
}

/**
 * Lost a race that a second try wins: a nonce another server stored meanwhile (the retry finds
 * it), or a deadlock or serialization failure (none is expected: rooms are locked in one order).
 */
export function raceLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === '40001' || code === '40P01';
}

/** What a driver error becomes on this side of the seam: no pg type or error crosses it. */
export function pgFailure(what: string, err: unknown): Error {
  if (err instanceof ChatError) return err;
  const reason = unavailableReason(err);
  if (reason !== undefined) return fail.unavailable(`storage is unavailable: ${reason}`);
  return new Error(`store: ${what} failed: ${(err as Error | null)?.message ?? String(err)}`);
}
