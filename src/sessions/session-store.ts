import session from 'express-session';
import { Store } from '../store/store';

/** Sessions without a cookie expiry live this long. */
const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

/** When a session (as express-session shapes it) expires, in ms since epoch. */
export function sessionExpiry(data: { cookie?: { expires?: unknown } }, now: number): number {
  const expires = data.cookie?.expires;
  const at = expires instanceof Date ? expires.getTime() : typeof expires === 'string' ? Date.parse(expires) : NaN;
  return Number.isFinite(at) ? at : now + DEFAULT_TTL_MS;
}

/** An express-session store that this app opened and closes. */
export interface SessionStore extends session.Store {
  close(): Promise<void>;
}

/**
 * express-session's store, kept in the chat's own Store (the same SQLite file as rooms
 * and history), so sessions survive restarts. Expired sessions are pruned hourly.
 */
export class ChatSessionStore extends session.Store implements SessionStore {
  private readonly pruner: NodeJS.Timeout;

  constructor(private readonly store: Store) {
    super();
    this.pruner = setInterval(() => void this.store.pruneSessions(Date.now()).catch(() => {}), 60 * 60 * 1000);
    this.pruner.unref();
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    this.store.getSession(sid, Date.now()).then(
      (json) => {
        if (json === undefined) return callback(null, null);
        let data: session.SessionData;
        try {
          data = JSON.parse(json) as session.SessionData;
        } catch {
          return callback(null, null);
        }
        callback(null, data);
      },
      (err) => callback(err),
    );
  }

  override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    const now = Date.now();
    this.store.setSession(sid, JSON.stringify(data), sessionExpiry(data, now)).then(
      () => callback?.(),
      (err) => callback?.(err),
    );
  }

  override touch(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    this.store.touchSession(sid, sessionExpiry(data, Date.now())).then(
      () => callback?.(),
      (err) => callback?.(err),
    );
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.store.destroySession(sid).then(
      () => callback?.(),
      (err) => callback?.(err),
    );
  }

  /** Stops the pruning timer. */
  async close(): Promise<void> {
    clearInterval(this.pruner);
  }
}
