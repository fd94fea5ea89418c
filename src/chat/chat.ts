import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { Bus, BusMessage } from '../bus/bus';
import { Config } from '../config';
import { Connection, ConnectionOptions, TrafficStats } from '../realtime/connection';
import { ChatError, fail } from '../protocol/errors';
import { newId } from './identity';
import { Flusher } from '../realtime/flusher';
import { Logger } from '../logger';
import { HistoryCache } from './history-cache';
import { hashPassword } from './password';
import { encodeEntry, encodePush, Entry, MessageEntry, RoomInfo, SystemEntry, SystemKind, UserInfo } from '../protocol';
import { Room } from './room';
import { PresenceBatcher } from '../realtime/presence-batcher';
import { RoomUpdates } from './room-updates';
import { Store } from '../store/store';
import { OnlineUser, UserDirectory } from '../realtime/user-directory';
import { TokenBucket } from '../realtime/token-bucket';
import { WriteBatcher } from '../store/write-batcher';

/** What the chat state is built from. */
export interface ChatDeps {
  config: Config;
  store: Store;
  bus: Bus;
  logger: Logger;
}

/** `roomUpdated` goes out at most once per room per this many ms. */
export const ROOM_UPDATE_INTERVAL_MS = 1000;

const roomTopic = (id: string) => `room:${id}`;
const userTopic = (id: string) => `user:${id}`;
const LOBBY = 'lobby';

/**
 * The chat's live state (who is online, who is in which room) and every
 * operation that changes it. Durable changes go through the write batcher;
 * pushes go through the bus, encoded once. Handlers call in here and stay thin.
 */
export class Chat {
  readonly rooms = new Map<string, Room>();
  readonly users = new UserDirectory();
  readonly connections = new Set<Connection>();
  readonly stats: TrafficStats = { framesIn: 0, framesOut: 0, slowConsumers: 0 };
  readonly batcher: WriteBatcher;
  /** Room history reads (memory tail, then the store). */
  readonly history: HistoryCache;
  private readonly flusher = new Flusher();
  private readonly roomUpdates: RoomUpdates;
  /** Joins and leaves, batched per room (see PresenceBatcher). */
  private readonly presence: PresenceBatcher;
  readonly config: Config;
  readonly store: Store;
  private readonly bus: Bus;
  private readonly logger: Logger;
  private readonly connectionOptions: ConnectionOptions;
  private readonly nonces = new Map<string, Promise<Entry>>();
  private readonly stopLobby: () => void;
  /** Set by close(): sockets closing now are the server's doing, not users leaving. */
  private closing = false;

  private constructor(deps: ChatDeps) {
    this.config = deps.config;
    this.store = deps.store;
    this.bus = deps.bus;
    this.logger = deps.logger;
    this.connectionOptions = {
      outboxLimit: deps.config.outboxLimit,
      rateLimit: new TokenBucket(deps.config.ratePerSec, deps.config.rateBurst),
      stats: this.stats,
      flusher: this.flusher,
    };
    this.batcher = new WriteBatcher(deps.store, deps.logger);
    this.presence = new PresenceBatcher((topic, message) => this.bus.publish(topic, message));
    this.history = new HistoryCache(deps.store);
    this.roomUpdates = new RoomUpdates(
      ROOM_UPDATE_INTERVAL_MS,
      (id) => this.rooms.get(id)?.info(),
      (frames) => this.bus.publish(LOBBY, { frame: frames }),
      () => this.connections.size,
    );
    this.stopLobby = this.bus.subscribe(LOBBY, (message) => {
      for (const conn of this.connections) conn.send(message.frame);
    });
  }

  /** Builds the chat state, loading every room from the store. */
  static async open(deps: ChatDeps): Promise<Chat> {
    const chat = new Chat(deps);
    for (const stored of await deps.store.loadRooms()) chat.track(new Room(stored));
    return chat;
  }

  // ---- connections -------------------------------------------------------

  /** Registers a new socket for `info`'s user. */
  connect(ws: WebSocket, socket: Duplex, info: UserInfo, sessionId: string | undefined): Connection {
    const { user, arrived } = this.users.enter(info);
    const conn = new Connection(ws, socket, user, sessionId, this.connectionOptions);
    user.addSocket(conn);
    this.connections.add(conn);
    if (arrived) {
      user.feed = this.bus.subscribe(userTopic(info.id), (message) => {
        for (const socket of user.sockets) socket.send(message.frame);
      });
    }
    return conn;
  }

  /** Forgets a closed socket: it leaves its rooms, and its user goes offline with their last socket. */
  disconnect(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    for (const roomId of conn.roomIds()) {
      const room = this.rooms.get(roomId);
      if (room) this.leaveRoom(conn, room, this.closing ? null : 'left');
      else conn.dropFeed(roomId);
    }
    const user = conn.user;
    if (user.removeSocket(conn)) {
      this.users.leave(user);
      user.stopFeed();
    }
  }

  // ---- rooms -------------------------------------------------------------

  /** The room, or `not_found`. */
  room(id: string): Room {
    const room = this.rooms.get(id);
    if (!room) throw fail.notFound(`no room ${id}`);
    return room;
  }

  /** The room, when `user` is in it; `not_found` or `not_joined` otherwise. */
  memberRoom(id: string, user: OnlineUser): Room {
    const room = this.room(id);
    if (!room.members.has(user.info.id)) throw fail.notJoined(id);
    return room;
  }

  /** The room, when `user` owns it; `not_found` or `forbidden` otherwise. */
  ownedRoom(id: string, user: OnlineUser): Room {
    const room = this.room(id);
    if (room.owner.id !== user.info.id) throw fail.forbidden('only the room owner can do that');
    return room;
  }

  /** Rooms as the lobby lists them, oldest first. */
  listRooms(): RoomInfo[] {
    return [...this.rooms.values()].map((room) => room.info());
  }

  /** Creates a room owned by `owner`; resolves once stored, after `roomCreated` went out. */
  async createRoom(owner: UserInfo, title: string, max: number, password: string | undefined): Promise<RoomInfo> {
    const now = Date.now();
    const passwordHash = password ? await hashPassword(password) : null;
    const record = { id: newId('r_'), title, max, passwordHash, owner, createdAt: now };
    const room = new Room({ ...record, lastSeq: 0, lastActivity: now });
    await this.batcher.write({ op: 'createRoom', room: record }, () => {
      this.track(room);
      this.publishLobby('roomCreated', room.info());
    });
    return room.info();
  }

  /**
   * Puts a socket in a room with its feed pending (see Connection). When it is the
   * user's first socket there, records `joined` and settles ownership.
   */
  enterRoom(conn: Connection, room: Room): void {
    conn.beginFeed(room.id);
    if (!room.addSocket(conn)) return;
    const user = conn.user.info;
    void this.record(room, 'joined', user);
    if (room.ownerGone) {
      room.ownerGone = false;
      if (room.owner.id !== user.id) this.setOwner(room, user);
    }
    this.touchRoom(room);
  }

  /**
   * Takes a socket out of a room. When it was the user's last socket there, records
   * `kind` (none while the server shuts down) and hands ownership on if they owned it.
   */
  leaveRoom(conn: Connection, room: Room, kind: 'left' | 'kicked' | null): void {
    conn.dropFeed(room.id);
    if (!room.removeSocket(conn)) return;
    const user = conn.user.info;
    if (kind) void this.record(room, kind, user);
    if (kind !== null && room.owner.id === user.id) {
      const next = room.longestPresent();
      if (next) this.setOwner(room, next.user.info);
      else room.ownerGone = true;
    }
    this.touchRoom(room);
  }

  /** Removes a user from a room and keeps them out for KICK_BAN_MS. */
  kick(room: Room, userId: string): void {
    const member = room.members.get(userId);
    if (!member) throw fail.notFound(`user ${userId} is not in room ${room.id}`);
    room.bans.set(userId, Date.now() + this.config.kickBanMs);
    const notice = encodePush('kicked', { room: room.id });
    for (const conn of [...member.sockets]) {
      conn.send(notice);
      this.leaveRoom(conn, room, null);
    }
    void this.record(room, 'kicked', member.user.info);
    this.touchRoom(room);
  }

  /** Makes `user` the owner: stored, a system entry, then an `owner` push to the room. */
  setOwner(room: Room, user: UserInfo): Promise<void> {
    room.owner = user;
    room.ownerGone = false;
    void this.batcher.write({ op: 'setOwner', room: room.id, owner: user }).catch((err) => this.logger.error('storing an owner failed', err));
    this.touchRoom(room);
    return this.record(room, 'owner', user, () => {
      this.pushRoom(roomTopic(room.id), { frame: encodePush('owner', { room: room.id, user }) });
    }).then(() => undefined);
  }

  /** Deletes a room and its history; everyone connected gets `roomRemoved`. */
  async deleteRoom(room: Room): Promise<void> {
    this.untrack(room);
    for (const conn of room.sockets) conn.dropFeed(room.id);
    await this.batcher.write({ op: 'deleteRoom', room: room.id }, () => {
      this.history.drop(room.id);
      this.publishLobby('roomRemoved', { id: room.id });
    });
  }

  /** Renames an online user, and the rooms they own (stored, and pushed to lobbies). */
  rename(user: OnlineUser, name: string): UserInfo {
    if (this.users.nameTaken(name, user.info.id)) throw new ChatError('name_taken', `the name ${name} is taken`);
    this.users.rename(user, name);
    for (const room of this.rooms.values()) {
      if (room.owner.id !== user.info.id) continue;
      room.owner = user.info;
      void this.batcher.write({ op: 'setOwner', room: room.id, owner: user.info }).catch((err) => this.logger.error('storing an owner failed', err));
      this.touchRoom(room);
    }
    return user.info;
  }

  // ---- entries -----------------------------------------------------------

  /**
   * Posts a chat message. A nonce already used by this user in this room returns the
   * original entry (nothing stored or pushed again), even while the first is in flight.
   * `queued` is called once the message holds its place in the room's order.
   */
  post(room: Room, user: UserInfo, body: { text?: string; gif?: string }, nonce: string | undefined, queued: () => void): Promise<Entry> {
    if (nonce === undefined) {
      const entry = this.append(room, { room: room.id, seq: 0, user, ...body, ts: 0 });
      queued();
      return entry;
    }
    const key = `${room.id}\n${user.id}\n${nonce}`;
    const inflight = this.nonces.get(key);
    if (inflight) {
      queued();
      return inflight;
    }
    const attempt = (async () => {
      try {
        const prior = await this.store.findByNonce(room.id, user.id, nonce);
        if (prior) return prior;
        if (this.rooms.get(room.id) !== room) throw fail.notFound(`no room ${room.id}`);
        return this.append(room, { room: room.id, seq: 0, user, ...body, ts: 0, nonce });
      } finally {
        // Runs once append() has queued the entry (or it failed), so order is kept.
        queued();
      }
    })();
    this.nonces.set(key, attempt);
    const forget = () => this.nonces.delete(key);
    attempt.then(forget, forget);
    return attempt;
  }

  /** Records a system entry in the room. */
  record(room: Room, kind: SystemKind, user: UserInfo, afterPublish?: () => void): Promise<Entry> {
    const entry: SystemEntry = { room: room.id, seq: 0, kind, user, ts: 0 };
    return this.append(room, entry, afterPublish);
  }

  /**
   * Gives the entry the room's next seq, stores it, and once committed pushes it to
   * the room (encoded once) and resolves with it. Pushes follow seq order because
   * batches commit in order and publish in write order.
   */
  private append(room: Room, entry: MessageEntry | SystemEntry, afterPublish?: () => void): Promise<Entry> {
    entry.seq = ++room.lastSeq;
    entry.ts = Date.now();
    const event = 'kind' in entry ? 'system' : 'message';
    return this.batcher
      .write({ op: 'append', entry }, () => {
        this.history.add(entry);
        room.lastActivity = entry.ts;
        const topic = roomTopic(room.id);
        if ('kind' in entry && (entry.kind === 'joined' || entry.kind === 'left')) this.presence.add(topic, entry);
        else this.pushRoom(topic, { frame: encodeEntry(event, entry), seq: entry.seq });
        afterPublish?.();
      })
      .then(() => entry);
  }

  // ---- pushes ------------------------------------------------------------

  /** Pushes to the room's sockets that are not `exceptUser`'s (typing). */
  publishRoom(room: Room, event: string, data: unknown, exceptUser?: string): void {
    this.pushRoom(roomTopic(room.id), { frame: encodePush(event, data), exceptUser });
  }

  /** Publishes the room's waiting presence entries now (see PresenceBatcher). */
  releasePresence(room: Room): void {
    this.presence.flush(roomTopic(room.id));
  }

  /** Every push to a room goes out after the presence that waits for it (seq order). */
  private pushRoom(topic: string, message: BusMessage): void {
    this.presence.flush(topic);
    this.bus.publish(topic, message);
  }

  /** Pushes to every socket of each of these users (encoded once). */
  publishUsers(userIds: readonly string[], event: string, data: unknown): void {
    const message: BusMessage = { frame: encodePush(event, data) };
    for (const id of new Set(userIds)) this.bus.publish(userTopic(id), message);
  }

  /** Pushes to every connected socket. */
  publishLobby(event: string, data: unknown): void {
    this.bus.publish(LOBBY, { frame: encodePush(event, data) });
  }

  /** Announces the room's new state (members, owner) to lobbies, coalesced (see RoomUpdates). */
  touchRoom(room: Room): void {
    this.roomUpdates.touch(room.id);
  }

  // ---- life --------------------------------------------------------------

  private track(room: Room): void {
    this.rooms.set(room.id, room);
    room.unsubscribe = this.bus.subscribe(roomTopic(room.id), (message) => {
      for (const conn of room.sockets) conn.deliver(room.id, message);
    });
  }

  private untrack(room: Room): void {
    this.presence.flush(roomTopic(room.id));
    this.rooms.delete(room.id);
    room.unsubscribe();
  }

  /** From now on sockets that close are not recorded as leaving (the server is going away). */
  beginShutdown(): void {
    this.closing = true;
  }

  /** Commits what is queued and releases every timer and subscription. */
  async close(): Promise<void> {
    this.closing = true;
    await this.batcher.drain();
    this.presence.close();
    for (const room of [...this.rooms.values()]) this.untrack(room);
    this.roomUpdates.close();
    for (const conn of this.connections) conn.user.stopFeed();
    this.stopLobby();
  }
}
