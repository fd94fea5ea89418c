import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { Bus, BusEvent, LOBBY_TOPIC, roomTopic, userTopic } from '../bus/bus';
import { HistoryCache } from '../chat/history-cache';
import { Logger } from '../logger';
import { encodeEntry, encodePush, Entry, fail, RoomInfo, UserInfo } from '../protocol';
import { Store } from '../store/store';
import { Connection, ConnectionOptions, ConnectionUser, TrafficStats } from './connection';
import { Flusher } from './flusher';
import { PresenceBatcher } from './presence-batcher';
import { Push } from './push';
import { TokenBucket } from './token-bucket';

/** How long a room's push that arrived ahead of a missing seq waits for it before the hole is filled from the store. */
export const GAP_WAIT_MS = 100;
/** Most entries one gap fill reads. */
const GAP_FILL_LIMIT = 1000;
/**
 * How often each followed room's last delivered seq is compared with the store's head: a
 * push lost with nothing after it (a process killed between commit and publish, a bus
 * that dropped the room's last message) is found and filled within this time.
 */
export const HEAD_CHECK_MS = 10_000;

/** A user with sockets on this process. Tabs share one LocalUser. */
class LocalUser implements ConnectionUser {
  /** Open sockets (tabs): a short array, most users have one. */
  sockets: readonly Connection[] = [];
  /** Ends delivery of the user's topic; null until the subscription is live. */
  stop: (() => void) | null = null;
  /** Users this user muted; null when none. */
  muted: ReadonlySet<string> | null = null;
  constructor(public info: UserInfo) {}
}

/** A room with sockets on this process. */
class LocalRoom {
  readonly sockets = new Set<Connection>();
  /** The highest seq delivered here, every seq below it delivered in order; -1 until known. */
  head = -1;
  /** Entries that arrived ahead of a missing seq, by seq; null when none. */
  ahead: Map<number, Entry> | null = null;
  /** Entries that arrived before the head was known. */
  early: Entry[] | null = [];
  gapTimer: NodeJS.Timeout | undefined;
  filling = false;
  stop: () => void = () => {};
  closed = false;
  /** Settles once the room's topic is live and its head known. */
  ready: Promise<void> = Promise.resolve();
}

export interface HubDeps {
  bus: Bus;
  store: Store;
  history: HistoryCache;
  logger: Logger;
  nodeId: string;
  outboxLimit: number;
  ratePerSec: number;
  rateBurst: number;
  /**
   * Called when a user with sockets here was kicked from a room: the client addresses of
   * those sockets, to be banned from the room until `until`. Must not throw.
   */
  onKicked?: (room: string, addresses: string[], until: number) => void;
}

/**
 * This process's sockets, by user and by room, and the delivery of the bus's facts to
 * them. A room's topic is subscribed on its first local socket and dropped with its
 * last; a user's topic likewise; the lobby topic always. Each fact is encoded once for
 * all local recipients.
 *
 * Pushes of a room's entries reach the sockets in seq order with no hole and no
 * duplicate, whatever order the bus delivered them in (several processes publish to
 * one room): an entry at or below the room's head is a duplicate and dropped; one
 * above head + 1 waits up to GAP_WAIT_MS for the missing ones, then the hole is filled
 * from the store. The history cache is fed here, in the same order.
 */
export class Hub {
  readonly connections = new Set<Connection>();
  readonly stats: TrafficStats = { framesIn: 0, framesOut: 0, slowConsumers: 0 };
  private readonly users = new Map<string, LocalUser>();
  private readonly rooms = new Map<string, LocalRoom>();
  private readonly presence: PresenceBatcher;
  private readonly connectionOptions: ConnectionOptions;
  private stopLobby: () => void = () => {};
  private stopReconnect: () => void = () => {};
  private readonly headCheck: NodeJS.Timeout;
  private checking = false;
  private nextSocket = 0;
  private closed = false;

  private constructor(private readonly deps: HubDeps) {
    this.connectionOptions = {
      outboxLimit: deps.outboxLimit,
      rateLimit: new TokenBucket(deps.ratePerSec, deps.rateBurst),
      stats: this.stats,
      flusher: new Flusher(),
    };
    this.presence = new PresenceBatcher((room, push) => this.send(room, push));
    this.headCheck = setInterval(() => this.checkHeads(), HEAD_CHECK_MS);
    this.headCheck.unref();
  }

  /** Builds the hub; resolves once the lobby topic is live. */
  static async open(deps: HubDeps): Promise<Hub> {
    const hub = new Hub(deps);
    hub.stopLobby = await deps.bus.subscribe(LOBBY_TOPIC, (event) => hub.onLobby(event));
    // What was published while the bus was away is lost: read every followed room's news from the store.
    hub.stopReconnect = deps.bus.onReconnect?.(() => hub.checkHeads()) ?? (() => {});
    return hub;
  }

  /** How many sockets this process holds. */
  get size(): number {
    return this.connections.size;
  }

  // ---- sockets -----------------------------------------------------------

  /** Registers a new socket of `info`'s user (sharing the user's LocalUser with their other tabs here). */
  add(ws: WebSocket, socket: Duplex, info: UserInfo, sessionId: string | undefined, address = 'unknown', muted?: readonly string[]): Connection {
    let user = this.users.get(info.id);
    const arrived = user === undefined;
    if (!user) {
      user = new LocalUser(info);
      // The session's mutes; while the user has sockets here, `muted` facts on their topic keep them current.
      if (muted && muted.length > 0) user.muted = new Set(muted);
      this.users.set(info.id, user);
    }
    const ref = { node: this.deps.nodeId, socket: String(++this.nextSocket) };
    const conn = new Connection(ws, socket, user, ref, sessionId, this.connectionOptions, address);
    user.sockets = [...user.sockets, conn];
    this.connections.add(conn);
    if (arrived) this.followUser(user);
    return conn;
  }

  private followUser(user: LocalUser): void {
    const id = user.info.id;
    this.deps.bus.subscribe(userTopic(id), (event) => this.onUser(id, event)).then(
      (stop) => {
        if (this.users.get(id) === user && !this.closed) user.stop = stop;
        else stop();
      },
      (err) => this.deps.logger.error(`subscribing to user ${id} failed`, err),
    );
  }

  /** Forgets a closed socket: it leaves its rooms here, and its user's topic goes with their last socket. */
  remove(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    for (const room of conn.roomIds()) this.detach(conn, room);
    const user = this.users.get(conn.user.info.id);
    if (!user) return;
    user.sockets = user.sockets.filter((c) => c !== conn);
    if (user.sockets.length > 0) return;
    this.users.delete(user.info.id);
    user.stop?.();
  }

  /** True while the socket is open and registered here. */
  has(conn: Connection): boolean {
    return this.connections.has(conn);
  }

  /** Gives this process's sockets of the user their new name at once (other processes hear of it on the bus). */
  renamed(user: UserInfo): void {
    const local = this.users.get(user.id);
    if (local) local.info = user;
  }

  /** Gives this process's sockets of the user their new mutes at once (other processes hear of it on the bus). */
  setMuted(userId: string, muted: readonly string[]): void {
    const local = this.users.get(userId);
    if (local) local.muted = muted.length > 0 ? new Set(muted) : null;
  }

  /** Every open socket here, with its user and the rooms it is in (to register them again in presence). */
  *sockets(): Iterable<{ ref: Connection['ref']; user: UserInfo; rooms: string[] }> {
    for (const conn of this.connections) yield { ref: conn.ref, user: conn.user.info, rooms: conn.roomIds() };
  }

  /** How many of this process's sockets are in the room. */
  socketsIn(roomId: string): number {
    return this.rooms.get(roomId)?.sockets.size ?? 0;
  }

  /** This process's sockets of a user. */
  socketsOf(userId: string): readonly Connection[] {
    return this.users.get(userId)?.sockets ?? [];
  }

  // ---- rooms -------------------------------------------------------------

  /**
   * Puts a socket in a room with its feed pending (see Connection.beginFeed), following
   * the room first if it is new here. Resolves once the room's pushes reach the socket:
   * history read after this holds every entry not pushed to it.
   */
  async attach(conn: Connection, roomId: string): Promise<void> {
    if (this.closed || !this.connections.has(conn)) throw fail.notJoined(roomId);
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new LocalRoom();
      this.rooms.set(roomId, room);
      room.ready = this.follow(roomId, room);
      // A failure is the caller's (attach rejects); nothing else waits on it unobserved.
      room.ready.catch(() => {});
    }
    conn.beginFeed(roomId);
    room.sockets.add(conn);
    try {
      await room.ready;
    } catch (err) {
      this.detach(conn, roomId);
      throw err;
    }
  }

  private async follow(roomId: string, room: LocalRoom): Promise<void> {
    const stop = await this.deps.bus.subscribe(roomTopic(roomId), (event) => this.onRoom(roomId, room, event));
    if (room.closed) return stop();
    room.stop = stop;
    const stored = await this.deps.store.room(roomId);
    if (room.closed) return;
    room.head = stored?.lastSeq ?? 0;
    this.deps.history.track(roomId);
    const early = room.early ?? [];
    room.early = null;
    for (const entry of early) this.onEntry(roomId, room, entry);
  }

  /** Takes a socket out of a room here; the room is dropped with its last local socket. */
  detach(conn: Connection, roomId: string): void {
    conn.dropFeed(roomId);
    const room = this.rooms.get(roomId);
    if (!room || !room.sockets.delete(conn) || room.sockets.size > 0) return;
    this.unfollow(roomId, room);
  }

  private unfollow(roomId: string, room: LocalRoom): void {
    this.presence.flush(roomId);
    room.closed = true;
    clearTimeout(room.gapTimer);
    room.stop();
    this.rooms.delete(roomId);
    this.deps.history.drop(roomId);
  }

  /** Sends the room's waiting presence entries now (see PresenceBatcher). */
  flushPresence(roomId: string): void {
    this.presence.flush(roomId);
  }

  // ---- delivery ----------------------------------------------------------

  private onRoom(roomId: string, room: LocalRoom, event: BusEvent): void {
    switch (event.type) {
      case 'entry':
        return this.onEntry(roomId, room, event.entry);
      case 'typing':
        return this.deliver(roomId, { frame: encodePush('typing', { room: roomId, user: event.user }), exceptUser: event.user.id, from: event.user.id });
      case 'renamed':
        return this.deliver(roomId, { frame: encodePush('renamed', { room: roomId, user: event.user }) });
    }
  }

  /** Puts an entry in seq order (see the class comment). */
  private onEntry(roomId: string, room: LocalRoom, entry: Entry): void {
    if (room.closed) return;
    if (room.early) return void room.early.push(entry);
    if (entry.seq <= room.head) return;
    if (entry.seq > room.head + 1) {
      (room.ahead ??= new Map()).set(entry.seq, entry);
      room.gapTimer ??= setTimeout(() => this.fill(roomId, room), GAP_WAIT_MS);
      return;
    }
    this.emit(roomId, room, entry);
    const ahead = room.ahead;
    if (ahead) {
      let next: Entry | undefined;
      while ((next = ahead.get(room.head + 1))) {
        ahead.delete(next.seq);
        this.emit(roomId, room, next);
      }
      if (ahead.size === 0) {
        room.ahead = null;
        clearTimeout(room.gapTimer);
        room.gapTimer = undefined;
      }
    }
  }

  /**
   * Compares each followed room's last delivered seq with the store's head and fills what
   * is missing (the bus is at-most-once; see HEAD_CHECK_MS). One round at a time.
   */
  checkHeads(): void {
    if (this.checking || this.closed) return;
    this.checking = true;
    const rooms = [...this.rooms];
    (async () => {
      for (const [roomId, room] of rooms) {
        if (room.closed || room.head < 0) continue;
        const stored = await this.deps.store.room(roomId);
        if (stored && stored.lastSeq > room.head && !room.closed) this.fill(roomId, room, true);
      }
    })()
      .catch((err) => this.deps.logger.warn(`checking rooms against the store failed: ${(err as Error).message}`))
      .finally(() => (this.checking = false));
  }

  /** Reads the missing entries from the store and delivers them, then those that waited (`force`: even when none waits). */
  private fill(roomId: string, room: LocalRoom, force = false): void {
    if (room.closed || room.filling || (!room.ahead && !force)) return;
    clearTimeout(room.gapTimer);
    room.gapTimer = undefined;
    room.filling = true;
    this.deps.store.entriesAfter(roomId, room.head, GAP_FILL_LIMIT).then(
      (entries) => {
        room.filling = false;
        if (room.closed) return;
        for (const entry of entries) this.onEntry(roomId, room, entry);
        // Still a hole (the store lags, or more than one page was missing): try again.
        if (room.ahead) room.gapTimer ??= setTimeout(() => this.fill(roomId, room), GAP_WAIT_MS);
      },
      (err) => {
        room.filling = false;
        this.deps.logger.warn(`filling a hole in room ${roomId} failed: ${(err as Error).message}`);
        if (!room.closed && room.ahead) room.gapTimer ??= setTimeout(() => this.fill(roomId, room), GAP_WAIT_MS);
      },
    );
  }

  /** Delivers the room's next entry (seq = head + 1): history tail, then the sockets. */
  private emit(roomId: string, room: LocalRoom, entry: Entry): void {
    room.head = entry.seq;
    this.deps.history.add(entry);
    if ('kind' in entry) {
      if (entry.kind === 'joined' || entry.kind === 'left') return this.presence.add(roomId, entry);
      this.deliver(roomId, { frame: encodeEntry('system', entry), seq: entry.seq });
      if (entry.kind === 'owner') this.deliver(roomId, { frame: encodePush('owner', { room: roomId, user: entry.user }) });
      return;
    }
    this.deliver(roomId, { frame: encodeEntry('message', entry), seq: entry.seq });
  }

  /** Every push to a room goes out after the presence that waits for it (seq order). */
  private deliver(roomId: string, push: Push): void {
    this.presence.flush(roomId);
    this.send(roomId, push);
  }

  private send(roomId: string, push: Push): void {
    const room = this.rooms.get(roomId);
    if (room) for (const conn of room.sockets) conn.deliver(roomId, push);
  }

  private onUser(userId: string, event: BusEvent): void {
    const user = this.users.get(userId);
    if (!user) return;
    switch (event.type) {
      case 'whisper':
        // A muted sender's whispers stop here (the sender's own copy on their topic still goes out).
        if (event.whisper.from.id !== userId && user.muted?.has(event.whisper.from.id)) return;
        return this.sendAll(user.sockets, encodePush('whisper', event.whisper));
      case 'muted':
        user.muted = event.muted.length > 0 ? new Set(event.muted) : null;
        return;
      case 'renamed':
        user.info = event.user;
        return this.sendAll(user.sockets, encodePush('renamed', { user: event.user }));
      case 'kicked': {
        this.deps.onKicked?.(event.room, [...new Set(user.sockets.map((c) => c.address))], event.until);
        const notice = encodePush('kicked', { room: event.room });
        for (const conn of user.sockets) {
          if (!conn.inRoom(event.room)) continue;
          conn.send(notice);
          this.detach(conn, event.room);
        }
        return;
      }
    }
  }

  private onLobby(event: BusEvent): void {
    switch (event.type) {
      case 'roomCreated':
        return this.sendAll(this.connections, encodePush('roomCreated', event.room));
      case 'roomsUpdated':
        return this.sendAll(this.connections, encodeRooms(event.rooms));
      case 'roomsChanged':
        return this.sendAll(this.connections, ROOMS_CHANGED);
      case 'roomRemoved': {
        const room = this.rooms.get(event.id);
        if (room) {
          for (const conn of room.sockets) conn.dropFeed(event.id);
          this.unfollow(event.id, room);
        }
        return this.sendAll(this.connections, encodePush('roomRemoved', { id: event.id }));
      }
    }
  }

  private sendAll(conns: Iterable<Connection>, frame: Buffer): void {
    for (const conn of conns) conn.send(frame);
  }

  /** Stops every subscription and timer (the sockets are closed by the gateway). */
  close(): void {
    this.closed = true;
    clearInterval(this.headCheck);
    this.stopReconnect();
    this.presence.close();
    for (const [id, room] of [...this.rooms]) this.unfollow(id, room);
    for (const user of this.users.values()) user.stop?.();
    this.stopLobby();
  }
}

/** The push telling lobbies to refetch `chatrooms`: the same bytes for everyone. */
const ROOMS_CHANGED = encodePush('roomsChanged', {});

/** `roomUpdated` frames for a batch of rooms (one frame a room), as one buffer. */
function encodeRooms(rooms: readonly RoomInfo[]): Buffer {
  const frames = rooms.map((room) => encodePush('roomUpdated', room));
  return frames.length === 1 ? frames[0] : Buffer.concat(frames);
}
