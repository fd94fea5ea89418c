import type { DependencyHealth } from '../health';
import { UserInfo } from '../protocol';

/** Where a socket lives: the server process (node) holding it and its id there. */
export interface SocketRef {
  node: string;
  socket: string;
}

/** A user present in a room. */
export interface RoomMember {
  user: UserInfo;
  /** When they arrived (ms since epoch; ties broken by arrival order): the longest present go first. */
  since: number;
}

/** What a join did. */
export type JoinOutcome =
  /** The user was not present: now they are (record `joined`). */
  | 'joined'
  /** The user was present already (another socket, or back within the grace period): nothing to record. */
  | 'present'
  /** The room has `max` members present and the user is not one of them: nothing changed. */
  | 'full';

/** A member whose presence ran out (grace over, or their server died): record `left` for them. */
export interface Departure {
  room: string;
  user: UserInfo;
}

/**
 * Who is online and who is in which room, shared by every server process (the memory
 * implementation serves the apps of one process; a networked one, many).
 *
 * Guarantees (the contract suite in test/presence/presence-contract.ts checks each):
 * - A user is online while any of their sockets, on any node, is connected; names are
 *   claimed case-insensitively and by look-alike skeleton (see name-key.ts) and unique among
 *   online users (`rename` is atomic).
 * - A user is present in a room while any of their sockets is in it, and for `graceMs`
 *   after the last one left without an explicit `leave` (a reload, a drop): back within
 *   the grace, they are still `present`, keep their place (`since`) and nothing is recorded.
 * - `join` is atomic: it never lets more than `max` members in, across processes.
 * - Sockets count only while their node is alive: a node that has not called `beat`
 *   within `ttlMs` is dead, its sockets are gone, and its users' grace starts then. So a
 *   server that dies leaves no ghosts.
 * - `sweep` hands each departure to exactly one caller, once: the one that records `left`.
 * - Every method may reject with ChatError `unavailable` when the presence backend is down.
 */
export interface Presence {
  /** Marks `node` alive for another `ttlMs`. Each server calls it every ttlMs / 3 or so. */
  beat(node: string, now: number): Promise<void>;
  /** Registers an open socket of `user`; resolves true when the user came online with it. */
  connect(ref: SocketRef, user: UserInfo): Promise<boolean>;
  /**
   * Forgets a closed socket: it leaves every room it was in as `leave(…, false)` does.
   * Resolves true when the user went offline with it.
   */
  disconnect(ref: SocketRef): Promise<boolean>;
  /** An online user, by id. */
  user(id: string): Promise<UserInfo | undefined>;
  /** Every online user, once each, in order of arrival. */
  users(): Promise<UserInfo[]>;
  /** How many users are online. */
  userCount(): Promise<number>;
  /**
   * Renames an online user (and their entry in every room they are in) unless another
   * online user holds the name (case-insensitive); false when taken. Atomic.
   */
  rename(user: UserInfo): Promise<boolean>;
  /** Puts a connected socket in a room unless the room has `max` members (see JoinOutcome). */
  join(room: string, ref: SocketRef, user: UserInfo, max: number): Promise<JoinOutcome>;
  /**
   * Takes a socket out of a room. When it was the user's last socket there: with
   * `explicit` the user leaves at once and this resolves true (record `left`); without,
   * their grace starts (see `sweep`) and this resolves false.
   */
  leave(room: string, ref: SocketRef, explicit: boolean): Promise<boolean>;
  /** Removes a user from a room at once, with all their sockets there (a kick); true when they were present. */
  remove(room: string, userId: string): Promise<boolean>;
  /** True when the user is present in the room (grace included). */
  isMember(room: string, userId: string): Promise<boolean>;
  /** A room's members, longest present first. */
  members(room: string): Promise<RoomMember[]>;
  /** How many members each room has, in the order asked. */
  counts(rooms: readonly string[]): Promise<number[]>;
  /** Rooms the user is present in. */
  roomsOf(userId: string): Promise<string[]>;
  /** Rooms with at least one member. */
  activeRooms(): Promise<string[]>;
  /** Removes dead nodes' sockets and members whose grace ended by `now`; each departure is returned to one caller only. */
  sweep(now: number): Promise<Departure[]>;
  /**
   * Calls `listener` when the shared state was found lost (the backend restarted empty):
   * every process must then register its open sockets and their rooms again. The in-process
   * presence never loses its state and may leave this out. Returns the function that stops it.
   */
  onReset?(listener: () => void): () => void;
  /** Whether the shared state answers (within a bound). Never rejects. */
  health(): Promise<DependencyHealth>;
  /** Releases what it holds (connections, timers). Safe to call twice. */
  close(): Promise<void>;
}

/** How long entries live: passed to every implementation. */
export interface PresenceOptions {
  /** How long a socket's room presence outlives its last socket without an explicit leave (PRESENCE_GRACE_MS). */
  graceMs: number;
  /** How long a node counts as alive after its last beat. */
  ttlMs: number;
}
