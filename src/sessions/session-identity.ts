import { IncomingMessage } from 'node:http';
import { signedCookie } from 'cookie-parser';
import { isUserInfo, newGuest } from '../chat/identity';
import { fail, ID_MAX, MUTES_MAX, UserInfo } from '../protocol';
import { sessionExpiry } from './session-store';
import { Store } from '../store/store';

/** Locked rooms a session remembers having unlocked. */
export const MAX_GRANTS = 50;

/** Name of the session cookie shared by the pages and the WebSocket. */
export const SESSION_COOKIE = 'gifchat.sid';

/** Reads one cookie's raw value from a Cookie header. */
function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Who a WebSocket is: the user of the signed session cookie it carries, so the
 * page and its socket agree; anyone else is a fresh guest (and no session row is made for it).
 *
 * A socket cannot set a cookie once open, so a change of rights made over it (a rename, a
 * room's password given) cannot rotate the session id at once: it marks the session
 * (`rotate`), and the next page request gives it a new id keeping the user and grants.
 * Sockets still open on the old id keep working; what they save later goes to a session
 * that is gone (the rename or grant holds for that socket only).
 */
export class SessionIdentity {
  constructor(
    private readonly store: Store,
    private readonly secret: string,
  ) {}

  /** The session id of a validly signed cookie, or undefined. */
  sessionId(req: IncomingMessage): string | undefined {
    const raw = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (!raw) return undefined;
    const sid = signedCookie(raw, this.secret);
    return typeof sid === 'string' && sid !== raw ? sid : undefined;
  }

  /** Resolves the user for an upgrade request (and whom they muted), giving a session without a user a new guest. */
  async userFor(req: IncomingMessage): Promise<{ user: UserInfo; sessionId?: string; muted?: string[] }> {
    const sid = this.sessionId(req);
    if (!sid) return { user: newGuest() };
    const data = await this.load(sid);
    if (!data) return { user: newGuest() };
    if (isUserInfo(data.user)) return { user: { id: data.user.id, name: data.user.name, color: data.user.color }, sessionId: sid, muted: mutedOf(data) };
    const user = newGuest();
    await this.write(sid, { ...data, user });
    return { user, sessionId: sid };
  }

  /** True when the session already gave this locked room's password (a reload needs no retyping). */
  async hasGrant(sid: string, roomId: string): Promise<boolean> {
    const data = await this.load(sid);
    return Array.isArray(data?.rooms) && data.rooms.includes(roomId);
  }

  /** Remembers in the session that it gave this locked room's password. */
  async grant(sid: string, roomId: string): Promise<void> {
    const data = await this.load(sid);
    if (!data) return;
    const rooms = Array.isArray(data.rooms) ? (data.rooms as unknown[]).filter((r) => r !== roomId) : [];
    // Bounded: the newest grants win.
    await this.write(sid, { ...data, rooms: [...rooms.slice(-(MAX_GRANTS - 1)), roomId], rotate: true });
  }

  /** Stores `user` in the session (after `register`), so a reload keeps the name. */
  async saveUser(sid: string, user: UserInfo): Promise<void> {
    const data = await this.load(sid);
    if (data) await this.write(sid, { ...data, user, rotate: true });
  }

  /**
   * Mutes (`on`) or unmutes a user in the session, and resolves with the whole list; at
   * most MUTES_MAX (`invalid_data` past it). Undefined when the session is gone.
   */
  async setMuted(sid: string, userId: string, on: boolean): Promise<string[] | undefined> {
    const data = await this.load(sid);
    if (!data) return undefined;
    const muted = mutedOf(data);
    const next = nextMuted(muted, userId, on);
    if (next !== muted) await this.write(sid, { ...data, muted: next });
    return next;
  }

  private async load(sid: string): Promise<Record<string, unknown> | undefined> {
    const json = await this.store.getSession(sid, Date.now());
    if (json === undefined) return undefined;
    try {
      const data: unknown = JSON.parse(json);
      return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  private write(sid: string, data: Record<string, unknown>): Promise<void> {
    return this.store.setSession(sid, JSON.stringify(data), sessionExpiry(data as { cookie?: { expires?: unknown } }, Date.now()));
  }
}

/** The mutes kept in a session's data (well-formed ids only, at most MUTES_MAX). */
function mutedOf(data: Record<string, unknown>): string[] {
  if (!Array.isArray(data.muted)) return [];
  return (data.muted as unknown[]).filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= ID_MAX).slice(0, MUTES_MAX);
}

/**
 * The list after muting (`on`) or unmuting `userId`: the same array when nothing changes;
 * `invalid_data` when muting one more than MUTES_MAX.
 */
export function nextMuted(muted: readonly string[], userId: string, on: boolean): string[] {
  const has = muted.includes(userId);
  if (on === has) return muted as string[];
  if (!on) return muted.filter((id) => id !== userId);
  if (muted.length >= MUTES_MAX) throw fail.invalid(`you may mute at most ${MUTES_MAX} users; unmute one first`);
  return [...muted, userId];
}
