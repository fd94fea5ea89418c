import connectPgSimple from 'connect-pg-simple';
import session from 'express-session';
import { Logger } from '../logger';
import { pgFailure } from '../store/pg-errors';
import { CONNECT_TIMEOUT_MS, STATEMENT_TIMEOUT_MS } from '../store/pg-store';
import { SessionStore } from './session-store';

/** Connections for sessions, apart from the chat's pool (a page load needs one briefly). */
const POOL_SIZE = 3;
/** How often (seconds) expired sessions are deleted; spread at random over 50–150% so workers do not all prune at once. */
const PRUNE_SECONDS = 15 * 60;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Callback = (err: any, value?: any) => void;

/**
 * express-session's store on PostgreSQL: connect-pg-simple, on the table migration 2
 * created in the shape it expects (`session`). The WebSocket side reads the same rows through
 * the chat's Store. Failures reach express as ChatError `unavailable` (a 503 page), never as
 * driver errors; requests fail within the store's connect and statement timeouts.
 */
export function openPgSessionStore(url: string, logger: Logger): SessionStore {
  const PgStore = connectPgSimple(session);
  const translate =
    (what: string, callback: Callback | undefined) =>
    (err: unknown, value?: unknown) =>
      callback?.(err ? pgFailure(`session ${what}`, err) : null, value);

  class PgSessionStore extends PgStore implements SessionStore {
    override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
      super.get(sid, translate('read', callback));
    }
    override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
      super.set(sid, data, translate('write', callback));
    }
    override touch(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
      super.touch(sid, data, ((err: unknown) => callback?.(err ? pgFailure('session touch', err) : undefined)) as () => void);
    }
    override destroy(sid: string, callback?: (err?: unknown) => void): void {
      super.destroy(sid, (err: unknown) => callback?.(err ? pgFailure('session removal', err) : undefined));
    }
    // connect-pg-simple's close is async (ends its pool); its types say void.
    override async close(): Promise<void> {
      await (super.close() as unknown as Promise<void>);
    }
  }

  return new PgSessionStore({
    conObject: {
      connectionString: url,
      max: POOL_SIZE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      query_timeout: STATEMENT_TIMEOUT_MS + 1000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'gif-chat sessions',
    },
    tableName: 'session',
    createTableIfMissing: false, // the chat's migrations made it
    pruneSessionInterval: PRUNE_SECONDS,
    errorLog: (...args: unknown[]) => logger.warn(`sessions: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')}`),
  });
}
