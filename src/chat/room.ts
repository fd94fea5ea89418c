import type { Connection } from '../realtime/connection';
import { RoomInfo, UserInfo } from '../protocol';
import { StoredRoom } from '../store/store';
import type { OnlineUser } from '../realtime/user-directory';

/** A user present in a room, through one or more of their sockets. */
export interface Member {
  user: OnlineUser;
  /** Order of arrival, for handing ownership to the longest-present member. */
  arrival: number;
  /** The user's sockets in this room: a short array of exact size, most users have one. */
  sockets: readonly Connection[];
}

let arrivals = 0;

/** A room in memory: its stored record plus who is in it right now. */
export class Room {
  readonly id: string;
  title: string;
  max: number;
  passwordHash: string | null;
  owner: UserInfo;
  readonly createdAt: number;
  /** Highest seq handed out (entries up to it may still be committing). */
  lastSeq: number;
  lastActivity: number;
  /** Present users by id. */
  readonly members = new Map<string, Member>();
  /** Every local socket joined to the room: the fan-out list. */
  readonly sockets = new Set<Connection>();
  /** Kicked users and when they may come back (ms since epoch). */
  readonly bans = new Map<string, number>();
  /** The owner left with nobody else here: the next user to join takes over. */
  ownerGone = false;
  /** Stops bus delivery for this room. */
  unsubscribe: () => void = () => {};

  constructor(stored: StoredRoom) {
    this.id = stored.id;
    this.title = stored.title;
    this.max = stored.max;
    this.passwordHash = stored.passwordHash;
    this.owner = stored.owner;
    this.createdAt = stored.createdAt;
    this.lastSeq = stored.lastSeq;
    this.lastActivity = stored.lastActivity;
  }

  /** Adds a socket; returns true when it is the user's first socket here (the user joined). */
  addSocket(conn: Connection): boolean {
    this.sockets.add(conn);
    const id = conn.user.info.id;
    const member = this.members.get(id);
    if (member) {
      if (!member.sockets.includes(conn)) member.sockets = [...member.sockets, conn];
      return false;
    }
    this.members.set(id, { user: conn.user, arrival: ++arrivals, sockets: [conn] });
    return true;
  }

  /** Removes a socket; returns true when it was the user's last socket here (the user left). */
  removeSocket(conn: Connection): boolean {
    this.sockets.delete(conn);
    const id = conn.user.info.id;
    const member = this.members.get(id);
    if (!member) return false;
    member.sockets = member.sockets.filter((c) => c !== conn);
    if (member.sockets.length > 0) return false;
    this.members.delete(id);
    return true;
  }

  /** The member present longest, if any. */
  longestPresent(): Member | undefined {
    let best: Member | undefined;
    for (const member of this.members.values()) {
      if (!best || member.arrival < best.arrival) best = member;
    }
    return best;
  }

  /** True while `userId` is kicked out of the room. */
  banned(userId: string, now: number): boolean {
    const until = this.bans.get(userId);
    if (until === undefined) return false;
    if (until > now) return true;
    this.bans.delete(userId);
    return false;
  }

  /** The room as clients see it. */
  info(): RoomInfo {
    return {
      id: this.id,
      title: this.title,
      max: this.max,
      members: this.members.size,
      locked: this.passwordHash !== null,
      owner: this.owner,
      lastActivity: this.lastActivity,
    };
  }
}
