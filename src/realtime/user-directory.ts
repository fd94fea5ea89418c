import type { Connection } from './connection';
import { UserInfo } from '../protocol';

/** A user with at least one open socket. Tabs share one OnlineUser. */
export class OnlineUser {
  /** Open sockets (tabs): a short array, most users have one. */
  sockets: readonly Connection[] = [];
  /** Ends delivery of this user's own topic (whispers, kicks); set while online. */
  feed: (() => void) | null = null;
  constructor(public info: UserInfo) {}

  /** Adds a socket (a new array of exactly the right size: `push` would reserve 16 slots). */
  addSocket(conn: Connection): void {
    this.sockets = [...this.sockets, conn];
  }

  /** Forgets a socket; true when it was the last one (the user goes offline). */
  removeSocket(conn: Connection): boolean {
    this.sockets = this.sockets.filter((c) => c !== conn);
    return this.sockets.length === 0;
  }

  /** Stops delivery of the user's topic (once offline, or at shutdown); safe to call twice. */
  stopFeed(): void {
    const stop = this.feed;
    this.feed = null;
    stop?.();
  }
}

/**
 * Who is online, by id and by name. Names are unique among online users,
 * compared case-insensitively.
 */
export class UserDirectory {
  private readonly byId = new Map<string, OnlineUser>();
  private readonly byName = new Map<string, string>();

  /** Online users, in order of arrival. */
  list(): UserInfo[] {
    return [...this.byId.values()].map((u) => u.info);
  }

  /** How many users are online (each counted once, whatever their tabs). */
  get size(): number {
    return this.byId.size;
  }

  get(id: string): OnlineUser | undefined {
    return this.byId.get(id);
  }

  /** True when `name` is held by an online user other than `exceptId`. */
  nameTaken(name: string, exceptId?: string): boolean {
    const holder = this.byName.get(name.toLowerCase());
    return holder !== undefined && holder !== exceptId;
  }

  /** Returns the online user for `info.id`, adding it when it is not online yet. */
  enter(info: UserInfo): { user: OnlineUser; arrived: boolean } {
    const existing = this.byId.get(info.id);
    if (existing) return { user: existing, arrived: false };
    const user = new OnlineUser(info);
    this.byId.set(info.id, user);
    // A returning user whose name was taken meanwhile keeps it; the index points at the first holder.
    if (!this.byName.has(info.name.toLowerCase())) this.byName.set(info.name.toLowerCase(), info.id);
    return { user, arrived: true };
  }

  /** Removes a user whose last socket closed. */
  leave(user: OnlineUser): void {
    if (this.byId.get(user.info.id) !== user) return;
    this.byId.delete(user.info.id);
    this.releaseName(user.info);
  }

  /** Changes a user's name (the caller checked nameTaken). */
  rename(user: OnlineUser, name: string): void {
    this.releaseName(user.info);
    user.info = { ...user.info, name };
    this.byName.set(name.toLowerCase(), user.info.id);
  }

  private releaseName(info: UserInfo): void {
    const key = info.name.toLowerCase();
    if (this.byName.get(key) === info.id) this.byName.delete(key);
  }
}
