import type { DependencyHealth } from '../health';
import { Entry, RoomInfo, UserInfo, Whisper } from '../protocol';

/**
 * The facts servers tell each other. Each process turns them into frames for its own
 * sockets, encoding each once. Topics: `room:<id>` (entries, typing, renames of members),
 * `user:<id>` (whispers, kicks, the user's own renames and mutes) and `lobby` (rooms created,
 * updated, removed).
 */
export type BusEvent =
  /** An entry committed to a room's log (published after the commit, in seq order per publisher). */
  | { type: 'entry'; entry: Entry }
  /** A member is typing (not stored). */
  | { type: 'typing'; room: string; user: UserInfo }
  /** A user's new name: on their user topic (for their sockets) and on each room they are in (for member lists). */
  | { type: 'renamed'; user: UserInfo; room?: string }
  /**
   * The user was kicked from the room: their sockets there leave it, and each process bans
   * the client addresses of the user's sockets it holds until `until`.
   */
  | { type: 'kicked'; room: string; user: string; until: number }
  /** The users this user muted now (the whole list): their sockets drop those users' whispers and typing. */
  | { type: 'muted'; user: string; muted: string[] }
  /** A whisper, on the target's and the sender's user topics. */
  | { type: 'whisper'; whisper: Whisper }
  | { type: 'roomCreated'; room: RoomInfo }
  /** Rooms whose member count, owner or activity changed (coalesced by the publisher). */
  | { type: 'roomsUpdated'; rooms: RoomInfo[] }
  /** Too many rooms changed at once to list (see RoomUpdates): lobbies refetch. */
  | { type: 'roomsChanged' }
  | { type: 'roomRemoved'; id: string };

/** Called with every event published to a topic it subscribed to. */
export type BusHandler = (event: BusEvent) => void;

export const roomTopic = (id: string) => `room:${id}`;
export const userTopic = (id: string) => `user:${id}`;
export const LOBBY_TOPIC = 'lobby';

/**
 * Carries facts between server processes (and between the apps of one process).
 *
 * Guarantees, as centrifuge's broker states its own:
 * - At most once: an event may be lost (a networked bus drops what it cannot deliver);
 *   never duplicated by the bus itself. Whatever must not be lost is in the store first:
 *   receivers fill holes in a room's seqs from there.
 * - Order: events of one publisher on one topic arrive in publish order. Nothing is
 *   promised across publishers: two processes' entries for one room may interleave out
 *   of seq order (receivers reorder by seq).
 * - `subscribe` resolves once the subscription is live: every event published after
 *   that is delivered (at most once). The returned function stops delivery at once.
 * - `publish` never throws and never blocks the caller on the network.
 * - `close()` stops all delivery and releases connections; safe to call twice.
 */
export interface Bus {
  /** Delivers the event to every subscriber of the topic, in this and other processes. */
  publish(topic: string, event: BusEvent): void;
  /** Starts delivery to `handler`; resolves, once live, with the function that stops it. */
  subscribe(topic: string, handler: BusHandler): Promise<() => void>;
  /**
   * Calls `listener` after the bus reconnected to its backend (events published meanwhile
   * are lost: receivers refill what matters from the store). The in-process bus never
   * disconnects and may leave this out. Returns the function that stops the calls.
   */
  onReconnect?(listener: () => void): () => void;
  /** Whether the bus works (within a bound). Never rejects. */
  health(): Promise<DependencyHealth>;
  /** Stops all delivery. */
  close(): Promise<void>;
}
