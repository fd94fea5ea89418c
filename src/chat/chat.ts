import { Bus, LOBBY_TOPIC, roomTopic, userTopic } from '../bus/bus';
import { Config } from '../config';
import { Logger } from '../logger';
import { SocketRef, Presence } from '../presence/presence';
import { ChatError, Entry, fail, RoomInfo, SystemKind, UserInfo, Whisper } from '../protocol';
import { AppendOp, AppendResult, NewEntry, RoomPosition, Store, StoredRoom } from '../store/store';
import { WriteBatcher } from '../store/write-batcher';
import { HistoryCache, HistoryPage, ResumePage } from './history-cache';
import { newId } from './identity';
import { HashQueue, hashPassword, verifyPassword } from './password';
import { RoomUpdates } from './room-updates';
import { Allowance } from '../limits/allowance';
import type { Limiter, Rate } from '../limits/limiter';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** A wait as people read it: "12 seconds", "3 minutes". */
export function waitText(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 120) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return `${minutes} minutes`;
  return `${Math.ceil(minutes / 60)} hours`;
}

/** `roomUpdated` goes out at most once per room per this many ms (per process). */
export const ROOM_UPDATE_INTERVAL_MS = 1000;
/** Rooms in one `chatrooms` reply or lobby page at most (MAX_REPLY_BYTES bounds their bytes too). */
export const ROOMS_PAGE = 100;
/** The owner and expiry policies run at most this often (and at least every sweep when their periods are short). */
export const ROOM_CHECK_MAX_MS = 60_000;
/** Retention (HISTORY_DAYS): how often a pass runs, entries per step, and most entries per pass. */
export const RETENTION_EVERY_MS = 3_600_000;
export const RETENTION_BATCH = 1000;
export const RETENTION_PASS_MAX = 100_000;

/** Where GIFs are removed when their room goes. */
export interface GifRemover {
  remove(urls: readonly string[]): Promise<void>;
}

/** What the chat is built from. */
export interface ChatDeps {
  config: Config;
  store: Store;
  bus: Bus;
  presence: Presence;
  history: HistoryCache;
  gifs: GifRemover;
  logger: Logger;
  /** This process's id in presence. */
  nodeId: string;
  /** How often this node tells presence it is alive (well within presence's ttl). */
  beatMs: number;
  /** How many sockets receive lobby updates here (stretches their interval). */
  audience: () => number;
  /** Counts what clients do, for the abuse limits (shared by every process of a deployment). */
  limiter: Limiter;
  /** True when the storage budget (STORAGE_MAX_BYTES) is used up: a cached boolean, asked per message. */
  storageFull?: () => boolean;
}

/** How a visitor gets into a locked room. */
export interface RoomAccess {
  /** The client's address (behind TRUST_PROXY the forwarded one): bans and attempt limits cover it. */
  address: string;
  /** The password typed, if any. */
  password?: string;
  /** True when the visitor's session already gave the password. */
  hasGrant(): Promise<boolean>;
  /** Remembers in the visitor's session that they gave it. */
  grant(): Promise<void>;
}

/** A room as clients see it, from its stored record and its member count. */
export function roomInfo(room: StoredRoom, members: number): RoomInfo {
  return {
    id: room.id,
    title: room.title,
    max: room.max,
    members,
    locked: room.passwordHash !== null,
    owner: room.owner,
    lastActivity: room.lastActivity,
  };
}

/** A position in the lobby's order as an opaque string for clients. */
function writeCursor(at: RoomPosition): string {
  return Buffer.from(`${at.lastActivity}.${at.id}`).toString('base64url');
}

/** Reads a cursor from writeCursor; anything else is `invalid_data`. */
function readCursor(cursor: string): RoomPosition {
  const match = /^(\d{1,16})\.([\s\S]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match || !Number.isSafeInteger(Number(match[1]))) throw fail.invalid('cursor is not one a chatrooms reply gave');
  return { lastActivity: Number(match[1]), id: match[2] };
}

/**
 * The chat domain: rooms, their logs, membership and ownership, with no sockets. The
 * truth lives in the store (rooms, entries, owner, bans) and in presence (who is online
 * and where); every change is told to all processes as a fact on the bus, after it is
 * stored. Writes of entries go through the write batcher (one transaction per turn), and
 * each committed entry is published in commit order.
 *
 * Presence and ownership:
 * - a socket closing without `leave` starts the user's grace (PRESENCE_GRACE_MS): back in
 *   time, nothing is recorded; past it, the sweep records `left`. An explicit `leave`
 *   records `left` at once;
 * - the owner stays the owner while away; ownership passes to the member present longest
 *   only after the owner has been offline for OWNER_AWAY_MS while the room had members;
 * - a room with no members and no new entries for ROOM_TTL_MS is deleted.
 *
 * No write is fire-and-forget: system entries recorded on the side are caught and logged
 * once; a request's own write failing rejects that request only.
 */
export class Chat {
  private readonly batcher: WriteBatcher;
  private readonly updates: RoomUpdates;
  private readonly config: Config;
  private readonly store: Store;
  private readonly bus: Bus;
  private readonly presence: Presence;
  private readonly cache: HistoryCache;
  private readonly logger: Logger;
  private sweepTimer: NodeJS.Timeout | undefined;
  private beatTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | null = null;
  private lastRoomCheck = 0;
  private lastRetention = 0;
  private retaining = false;
  private closed = false;
  private readonly messageRate: Allowance;
  /** Addresses over their history read rate: until when their reads are refused. */
  private readonly readBlocks = new Map<string, number>();
  private readonly readRates: Rate[];
  /** Every scrypt of this process (room creation, password checks) waits its turn here. */
  private readonly hashes = new HashQueue();

  constructor(private readonly deps: ChatDeps) {
    this.config = deps.config;
    this.store = deps.store;
    this.bus = deps.bus;
    this.presence = deps.presence;
    this.cache = deps.history;
    this.logger = deps.logger;
    this.batcher = new WriteBatcher(deps.store, deps.logger);
    this.updates = new RoomUpdates(
      ROOM_UPDATE_INTERVAL_MS,
      (ids) => this.infos(ids),
      (rooms) => this.bus.publish(LOBBY_TOPIC, { type: 'roomsUpdated', rooms }),
      deps.audience,
      (err) => this.logger.warn(`reading rooms for the lobby failed: ${(err as Error).message}`),
      () => this.bus.publish(LOBBY_TOPIC, { type: 'roomsChanged' }),
    );
    const { userMessagesPerSec: perSec, userMessagesBurst: burst } = deps.config;
    this.readRates = [{ limit: deps.config.readBytesPerSec * 4, windowMs: 4000 }];
    this.messageRate = new Allowance(deps.limiter, 'msg:', [{ limit: burst, windowMs: (burst / perSec) * 1000 }], `at most ${perSec} messages a second from one person`);
  }

  /**
   * Counts one message (or GIF) of `user` against the per-user rate, across all their sockets
   * and processes. Undefined when admitted at once (no promise on the hot path); otherwise a
   * promise rejecting with `rate_limited` (retryAfterMs) past the rate.
   */
  admitMessage(user: UserInfo): Promise<void> | undefined {
    return this.messageRate.admit(user.id);
  }

  /**
   * Throws `rate_limited` while `address` is over its history read rate (READ_BYTES_PER_SEC):
   * a few small requests for whole pages must not keep the server busy for everyone else.
   */
  checkReads(address: string): void {
    const until = this.readBlocks.get(address);
    if (until === undefined) return;
    const wait = until - Date.now();
    if (wait > 0) throw fail.rateLimited(`slow down: at most ${Math.round(this.config.readBytesPerSec / 1024)} KiB of history a second from one address`, wait);
    this.readBlocks.delete(address);
  }

  /**
   * Counts `bytes` of history read by `address` (after the page was answered: the work is
   * done). Past the rate, the address's next reads are refused for the wait (checkReads).
   * When the limiter cannot count, reads are not refused.
   */
  chargeReads(address: string, bytes: number): void {
    this.deps.limiter.take(`reads:ip:${address}`, this.readRates, bytes).then(
      (verdict) => {
        if (verdict.ok) return;
        if (this.readBlocks.size >= 10_000) this.readBlocks.clear();
        this.readBlocks.set(address, Date.now() + verdict.retryAfterMs);
      },
      () => {},
    );
  }

  /** Entries a plain `join` and a `history` without `limit` return. */
  get historyLimit(): number {
    return this.config.historyLimit;
  }

  /** Most entries a `join` with `since` returns before `more: true`. */
  get resumeLimit(): number {
    return this.config.resumeLimit;
  }

  /**
   * Marks this node alive, on a timer of its own (a slow sweep must never let presence
   * take this node for dead), and starts the periodic sweep (grace ends, owner policy,
   * room expiry).
   */
  async start(): Promise<void> {
    const beat = () => this.presence.beat(this.deps.nodeId, Date.now());
    await beat();
    this.beatTimer = setInterval(() => {
      beat().catch((err) => this.logger.warn(`presence beat failed: ${(err as Error).message}`));
    }, this.deps.beatMs);
    this.sweepTimer = setInterval(() => {
      this.sweeping ??= this.sweep(Date.now())
        .catch((err) => this.logger.warn(`sweep failed: ${(err as Error).message}`))
        .finally(() => (this.sweeping = null));
    }, this.config.sweepMs);
  }

  // ---- sockets -----------------------------------------------------------

  /** Registers an open socket of `user` in presence. */
  connect(ref: SocketRef, user: UserInfo): Promise<boolean> {
    return this.presence.connect(ref, user);
  }

  /**
   * Registers open sockets and their rooms in presence again, recording nothing (presence
   * lost its state: the users never left). A room that filled meanwhile still takes them
   * back: they were in it.
   */
  async restore(sockets: Iterable<{ ref: SocketRef; user: UserInfo; rooms: readonly string[] }>): Promise<void> {
    for (const { ref, user, rooms } of sockets) {
      await this.presence.connect(ref, user);
      for (const room of rooms) await this.presence.join(room, ref, user, Number.MAX_SAFE_INTEGER);
    }
  }

  /** Forgets a closed socket: its rooms keep the user for the grace period. */
  async disconnect(ref: SocketRef): Promise<void> {
    await this.presence.disconnect(ref);
  }

  // ---- rooms -------------------------------------------------------------

  /** The stored room, or `not_found`. */
  async room(id: string): Promise<StoredRoom> {
    const room = await this.store.room(id);
    if (!room) throw fail.notFound(`no room ${id}`);
    return room;
  }

  /** The stored room, or undefined. */
  findRoom(id: string): Promise<StoredRoom | undefined> {
    return this.store.room(id);
  }

  /** The room as clients see it, now. */
  async info(room: StoredRoom): Promise<RoomInfo> {
    const [count] = await this.presence.counts([room.id]);
    return roomInfo(room, count);
  }

  /**
   * A page of rooms as the lobby lists them, most recent activity first: at most
   * ROOMS_PAGE rooms and MAX_REPLY_BYTES of their JSON (at least one room), with the
   * `cursor` of the next page when there is more. `cursor` (from an earlier page) continues
   * after it; one that is not a cursor is `invalid_data`.
   */
  async listRooms(cursor?: string): Promise<{ rooms: RoomInfo[]; cursor?: string }> {
    const stored = await this.store.roomsByActivity(cursor === undefined ? undefined : readCursor(cursor), ROOMS_PAGE + 1);
    const counts = await this.presence.counts(stored.slice(0, ROOMS_PAGE).map((r) => r.id));
    const rooms: RoomInfo[] = [];
    let bytes = 2;
    for (let i = 0; i < counts.length; i++) {
      const info = roomInfo(stored[i], counts[i]);
      bytes += Buffer.byteLength(JSON.stringify(info)) + 1;
      if (rooms.length > 0 && bytes > this.config.maxReplyBytes) break;
      rooms.push(info);
    }
    if (rooms.length === stored.length) return { rooms };
    const last = rooms[rooms.length - 1];
    return { rooms, cursor: writeCursor({ lastActivity: last.lastActivity, id: last.id }) };
  }

  private async infos(ids: string[]): Promise<RoomInfo[]> {
    const rooms = (await Promise.all(ids.map((id) => this.store.room(id)))).filter((r): r is StoredRoom => r !== undefined);
    const counts = await this.presence.counts(rooms.map((r) => r.id));
    return rooms.map((room, i) => roomInfo(room, counts[i]));
  }

  /**
   * Creates a room owned by `owner` (who does not join it); every lobby hears of it.
   * Quotas: at most ROOMS_PER_USER rooms owned at once (`forbidden`), ROOM_CREATES_PER_HOUR
   * creations per user and 3x that per client address (`rate_limited`). The owned count is
   * read before the insert: creations racing each other may pass it by their number.
   */
  async createRoom(owner: UserInfo, title: string, max: number, password: string | undefined, address: string): Promise<RoomInfo> {
    const { roomsPerUser, roomCreatesPerHour } = this.config;
    const owned = await this.store.ownedRoomCount(owner.id);
    if (owned >= roomsPerUser) {
      throw fail.forbidden(`you own ${owned} rooms, the most one user may have (${roomsPerUser}); delete one of them to create another`);
    }
    await this.limit(`create:u:${owner.id}`, [{ limit: roomCreatesPerHour, windowMs: HOUR_MS }], 'you created too many rooms in the last hour');
    await this.limit(`create:a:${address}`, [{ limit: roomCreatesPerHour * 3, windowMs: HOUR_MS }], 'too many rooms were created from your address in the last hour');
    const now = Date.now();
    const passwordHash = password ? await hashPassword(password, this.hashes) : null;
    const record = { id: newId('r_'), title, max, passwordHash, owner, createdAt: now };
    await this.store.createRoom(record);
    const info = roomInfo({ ...record, lastSeq: 0, lastActivity: now, ownerAwaySince: null }, 0);
    this.bus.publish(LOBBY_TOPIC, { type: 'roomCreated', room: info });
    return info;
  }

  /** The room, when `user` owns it; `not_found` or `forbidden` otherwise. */
  private async ownedRoom(id: string, user: UserInfo): Promise<StoredRoom> {
    const room = await this.room(id);
    if (room.owner.id !== user.id) throw fail.forbidden('only the room owner can do that');
    return room;
  }

  /**
   * Lets a socket of `user` into a room: checks the ban and the password (unless the user
   * is present already), then joins presence unless the room is full. The user's first
   * arrival records `joined`.
   */
  async enter(roomId: string, user: UserInfo, ref: SocketRef, access: RoomAccess): Promise<StoredRoom> {
    const room = await this.room(roomId);
    if (!(await this.presence.isMember(room.id, user.id))) {
      // The owner is never kept out of their own room (they may share a kicked user's address).
      const until = room.owner.id === user.id ? undefined : await this.store.bannedUntil(room.id, user.id, Date.now(), access.address);
      if (until !== undefined) throw fail.banned(until);
      if (room.passwordHash !== null) {
        const ok = access.password !== undefined ? await this.checkPassword(room, user, access.address, access.password) : await access.hasGrant();
        if (!ok) throw fail.forbidden(access.password === undefined ? 'this room needs a password' : 'wrong password');
        if (access.password !== undefined) await access.grant();
      }
    }
    const outcome = await this.presence.join(room.id, ref, user, room.max);
    if (outcome === 'full') throw new ChatError('room_full', `room ${room.id} is full (${room.max} members)`);
    if (outcome === 'joined') void this.recordAside(room.id, 'joined', user);
    return room;
  }

  /**
   * Takes a socket out of a room at the user's request; their last socket there records
   * `left` at once: resolved once it is stored (a failure to store it is logged; the user
   * has left all the same).
   */
  async leave(roomId: string, user: UserInfo, ref: SocketRef): Promise<void> {
    if (await this.presence.leave(roomId, ref, true)) await this.recordAside(roomId, 'left', user);
  }

  /** Takes a socket out of a room without the user asking (their join failed half-way): their grace starts. */
  async drop(roomId: string, ref: SocketRef): Promise<void> {
    await this.presence.leave(roomId, ref, false);
  }

  /** Who is in the room, longest present first. */
  async members(roomId: string): Promise<UserInfo[]> {
    return (await this.presence.members(roomId)).map((m) => m.user);
  }

  /** The user as the room knows them now, when present. */
  async member(roomId: string, userId: string): Promise<UserInfo | undefined> {
    return (await this.presence.members(roomId)).find((m) => m.user.id === userId)?.user;
  }

  /** Until when (ms since epoch) a kick keeps the user, or anyone from `address`, out of the room, if it still does. */
  bannedUntil(roomId: string, userId: string, address?: string): Promise<number | undefined> {
    return this.store.bannedUntil(roomId, userId, Date.now(), address);
  }

  /**
   * Checks a password typed for a locked room (the unlock form), under the same attempt
   * limits as `join`: true when it matches (or the room is not locked).
   */
  async unlock(roomId: string, user: UserInfo, address: string, password: string): Promise<boolean> {
    const room = await this.room(roomId);
    return room.passwordHash === null || (await this.checkPassword(room, user, address, password));
  }

  /**
   * One attempt at a room's password: counted against the room and user
   * (PASSWORD_ATTEMPTS_PER_MINUTE a minute, 4x that an hour: the wait grows) and then the
   * client address (6x a minute, across rooms), `rate_limited` past either; then hashed in
   * the bounded line (`unavailable` when it is full).
   */
  private async checkPassword(room: StoredRoom, user: UserInfo, address: string, password: string): Promise<boolean> {
    const perMinute = this.config.passwordAttemptsPerMinute;
    await this.limit(
      `pw:r:${room.id}:u:${user.id}`,
      [
        { limit: perMinute, windowMs: MINUTE_MS },
        { limit: perMinute * 4, windowMs: HOUR_MS },
      ],
      'too many password attempts for this room',
    );
    await this.limit(`pw:a:${address}`, [{ limit: perMinute * 6, windowMs: MINUTE_MS }], 'too many password attempts from your address');
    return verifyPassword(password, room.passwordHash ?? '', this.hashes);
  }

  /** Counts one action against `key`'s rates: `rate_limited` (with the wait) past them; `unavailable` when they cannot be checked. */
  private async limit(key: string, rates: readonly Rate[], message: string): Promise<void> {
    const verdict = await this.deps.limiter.take(key, rates);
    if (!verdict.ok) throw fail.rateLimited(`${message}; try again in ${waitText(verdict.retryAfterMs)}`, verdict.retryAfterMs);
  }

  /** True when the user is present in the room (grace included). */
  isMember(roomId: string, userId: string): Promise<boolean> {
    return this.presence.isMember(roomId, userId);
  }

  /**
   * Removes a member and keeps them out for KICK_BAN_MS: the ban and the `kicked` entry
   * commit together. The ban also covers the client addresses of the user's sockets:
   * `addresses` (the sockets of this process) are banned before this resolves (a failure to
   * store that is logged: the kick stands); every process hearing `kicked` bans those of its
   * own sockets (see banAddresses).
   */
  async kick(roomId: string, by: UserInfo, userId: string, addresses: readonly string[] = []): Promise<void> {
    await this.ownedRoom(roomId, by);
    const target = await this.member(roomId, userId);
    if (!target) throw fail.notFound(`user ${userId} is not in room ${roomId}`);
    const until = Date.now() + this.config.kickBanMs;
    const result = await this.write({ entry: this.newEntry(roomId, 'kicked', target), banUntil: until });
    if ('refused' in result) throw fail.notFound(`no room ${roomId}`);
    // Stored: now their sockets leave the room, on every server, whatever presence does next.
    this.bus.publish(userTopic(userId), { type: 'kicked', room: roomId, user: userId, until });
    if (addresses.length > 0) await this.banAddresses(roomId, addresses, until);
    await this.presence.remove(roomId, userId).catch((err) => this.logger.warn(`removing kicked ${userId} from room ${roomId} failed: ${(err as Error).message}`));
  }

  /** Keeps client addresses out of a room until `until` (a kicked user's sockets elsewhere); a failure is logged, never thrown. */
  banAddresses(roomId: string, addresses: readonly string[], until: number): Promise<void> {
    return this.store.banAddresses(roomId, addresses, until).catch((err) => this.logger.warn(`banning the addresses of a kicked user from room ${roomId} failed: ${(err as Error).message}`));
  }

  /** Hands the room to a present member: an `owner` entry (and push) once stored. */
  async transfer(roomId: string, by: UserInfo, userId: string): Promise<{ room: string; user: UserInfo }> {
    const room = await this.ownedRoom(roomId, by);
    const target = await this.member(roomId, userId);
    if (!target) throw fail.notFound(`user ${userId} is not in room ${roomId}`);
    if (target.id !== room.owner.id) {
      const result = await this.write({ entry: this.newEntry(roomId, 'owner', target), ownerWas: by.id });
      if ('refused' in result) throw result.refused === 'conflict' ? fail.forbidden('only the room owner can do that') : fail.notFound(`no room ${roomId}`);
    }
    return { room: roomId, user: target };
  }

  /** Deletes a room with its history and GIFs; everyone connected gets `roomRemoved`. */
  async deleteRoom(roomId: string, by: UserInfo): Promise<void> {
    await this.ownedRoom(roomId, by);
    await this.remove(roomId);
  }

  private async remove(roomId: string, idleBefore?: number): Promise<boolean> {
    const members = await this.presence.members(roomId);
    if (idleBefore !== undefined && members.length > 0) return false;
    const result = await this.store.deleteRoom(roomId, idleBefore);
    if (!result.deleted) return false;
    // Deleted: everyone hears of it first, whatever the clean-up below does.
    this.bus.publish(LOBBY_TOPIC, { type: 'roomRemoved', id: roomId });
    const warn = (what: string) => (err: unknown) => this.logger.warn(`${what} of room ${roomId} failed: ${(err as Error).message}`);
    for (const member of members) await this.presence.remove(roomId, member.user.id).catch(warn('removing the members'));
    this.deps.gifs.remove(result.gifs).catch(warn('removing the GIFs'));
    return true;
  }

  /** How many users are online and how many rooms exist (for /healthz and /metrics). */
  async counts(): Promise<{ users: number; rooms: number }> {
    const [users, rooms] = await Promise.all([this.presence.userCount(), this.store.roomCount()]);
    return { users, rooms };
  }

  // ---- users -------------------------------------------------------------

  /** Everyone online, each once. */
  users(): Promise<UserInfo[]> {
    return this.presence.users();
  }

  /**
   * Renames a user (unique among online users, case-insensitive): the rooms they own are
   * updated, and the rooms they are in and their own sockets hear of it.
   */
  async rename(user: UserInfo, name: string): Promise<UserInfo> {
    const renamed = { ...user, name };
    if (!(await this.presence.rename(renamed))) throw new ChatError('name_taken', `the name ${name} is taken`);
    for (const room of await this.store.renameOwner(renamed)) this.updates.touch(room);
    this.bus.publish(userTopic(user.id), { type: 'renamed', user: renamed });
    for (const room of await this.presence.roomsOf(user.id)) this.bus.publish(roomTopic(room), { type: 'renamed', user: renamed, room });
    return renamed;
  }

  /**
   * A private message to an online user: pushed to their sockets and the sender's (the
   * target's sockets drop it when they muted the sender, see Hub). At most
   * WHISPER_TARGET_RATE to one user and WHISPER_RATE in all per sender
   * (`rate_limited`).
   */
  async whisper(from: UserInfo, to: string, text: string): Promise<Whisper> {
    const target = await this.presence.user(to);
    if (!target) throw fail.notFound(`user ${to} is not online`);
    await this.limit(`whisper:${from.id}:${target.id}`, [{ limit: this.config.whisperTargetRate, windowMs: 10_000 }], `too many whispers to ${target.name}`);
    await this.limit(`whisper:${from.id}`, [{ limit: this.config.whisperRate, windowMs: 10_000 }], 'too many whispers');
    const whisper: Whisper = { id: newId('w_'), from, to: target, text, ts: Date.now() };
    this.bus.publish(userTopic(target.id), { type: 'whisper', whisper });
    if (from.id !== target.id) this.bus.publish(userTopic(from.id), { type: 'whisper', whisper });
    return whisper;
  }

  /** Tells the user's sockets on every process whom they muted now (`muted`: the whole list, bounded by MUTES_MAX). */
  muted(userId: string, muted: readonly string[]): void {
    this.bus.publish(userTopic(userId), { type: 'muted', user: userId, muted: [...muted] });
  }

  /** Tells the room's other members the user is typing (not stored). */
  typing(roomId: string, user: UserInfo): void {
    this.bus.publish(roomTopic(roomId), { type: 'typing', room: roomId, user });
  }

  // ---- entries -----------------------------------------------------------

  /**
   * Posts a chat message. The message takes its place in the room's order now (before
   * this returns), so a socket's messages keep their order; the promise resolves with the
   * committed entry once stored and published. A nonce already used by this user in
   * this room resolves with the original entry, stored and pushed once only.
   */
  post(roomId: string, user: UserInfo, body: { text?: string; gif?: string; width?: number; height?: number }, nonce: string | undefined): Promise<Entry> {
    if (this.deps.storageFull?.()) return Promise.reject(fail.storageFull());
    const entry: NewEntry = nonce === undefined ? { room: roomId, user, ...body, ts: Date.now() } : { room: roomId, user, ...body, ts: Date.now(), nonce };
    return this.write({ entry }).then((result) => {
      if ('refused' in result) throw fail.notFound(`no room ${roomId}`);
      return result.entry;
    });
  }

  /** The newest `limit` entries with seq < before (or the newest), oldest first; fewer (the newest, at least one) past MAX_REPLY_BYTES. */
  history(roomId: string, before: number | undefined, limit: number): Promise<HistoryPage> {
    return this.cache.before(roomId, before, limit, this.config.maxReplyBytes);
  }

  /** Entries with seq > since, at most `limit` and (at least one) MAX_REPLY_BYTES of them, and whether more follow. */
  resume(roomId: string, since: number, limit: number): Promise<ResumePage> {
    return this.cache.after(roomId, since, limit, this.config.maxReplyBytes);
  }

  private newEntry(room: string, kind: SystemKind, user: UserInfo): NewEntry {
    return { room, kind, user, ts: Date.now() };
  }

  /** Appends through the batcher; once committed (and new), the entry is published to the room. */
  private write(op: AppendOp): Promise<AppendResult> {
    return this.batcher.append(op, this.publishEntry);
  }

  /**
   * Publishes a committed entry to its room. Membership and ownership changes also reach
   * the lobby (coalesced); a chat message does not: lobbies learn of new activity with the
   * room's next membership change or when they list the rooms.
   */
  private readonly publishEntry = (result: AppendResult): void => {
    if (!('entry' in result) || result.duplicate) return;
    const entry = result.entry;
    this.bus.publish(roomTopic(entry.room), { type: 'entry', entry });
    if ('kind' in entry) this.updates.touch(entry.room);
  };

  /** Records a system entry on the side: a failure is logged once and costs nothing else (the promise never rejects). */
  private recordAside(roomId: string, kind: SystemKind, user: UserInfo): Promise<void> {
    return this.write({ entry: this.newEntry(roomId, kind, user) }).then(
      () => undefined,
      (err) => this.logger.error(`recording "${kind}" of ${user.id} in room ${roomId} failed`, err),
    );
  }

  // ---- policies ----------------------------------------------------------

  /**
   * One round of upkeep: records `left` for members whose grace ended (or whose server
   * died), and now and then applies the owner and expiry policies.
   */
  async sweep(now: number): Promise<void> {
    if (this.closed) return;
    this.messageRate.sweep(now);
    for (const [address, until] of this.readBlocks) if (until <= now) this.readBlocks.delete(address);
    for (const gone of await this.presence.sweep(now)) {
      // Back on another server meanwhile: their `joined` was not recorded, so no `left` either.
      if (await this.presence.isMember(gone.room, gone.user.id)) continue;
      void this.recordAside(gone.room, 'left', gone.user);
    }
    if (this.config.historyDays > 0 && !this.retaining && now - this.lastRetention >= RETENTION_EVERY_MS) {
      // Apart from the sweep (a pass may take a while), one at a time.
      this.lastRetention = now;
      this.retaining = true;
      this.applyRetention(now)
        .then((stats) => {
          if (stats.deleted > 0) this.logger.info(`retention (HISTORY_DAYS=${this.config.historyDays}): deleted ${stats.deleted} entries and ${stats.gifs} GIFs`);
          // Cut short by its bound: go on at the next sweep rather than in an hour.
          if (!stats.done) this.lastRetention = 0;
        })
        .catch((err: unknown) => this.logger.warn(`retention pass failed (tried again later): ${(err as Error)?.message ?? String(err)}`))
        .finally(() => (this.retaining = false));
    }
    if (now - this.lastRoomCheck < this.roomCheckMs()) return;
    this.lastRoomCheck = now;
    await this.applyOwnerPolicy(now);
    if (this.config.roomTtlMs > 0) await this.expireRooms(now);
    await this.store.pruneBans(now);
  }

  private roomCheckMs(): number {
    const { ownerAwayMs, roomTtlMs, sweepMs } = this.config;
    const shortest = Math.min(ownerAwayMs, roomTtlMs > 0 ? roomTtlMs : Infinity);
    return Math.max(sweepMs, Math.min(ROOM_CHECK_MAX_MS, Math.floor(shortest / 4)));
  }

  /**
   * Hands rooms whose owner has been offline for OWNER_AWAY_MS while others were present to
   * the member present longest. The clock (ownerAwaySince, stored) runs only while both
   * hold: an owner coming back, or the room emptying, stops and clears it.
   */
  private async applyOwnerPolicy(now: number): Promise<void> {
    const active = new Set(await this.presence.activeRooms());
    // Rooms that emptied while their clock ran: stop it (an empty room keeps its owner).
    for (const room of await this.store.rooms()) {
      if (room.ownerAwaySince !== null && !active.has(room.id)) await this.store.setOwnerAway(room.id, null);
    }
    for (const roomId of active) {
      const room = await this.store.room(roomId);
      if (!room) continue;
      // The owner in their own grace period is not "present" for this: only the others count.
      const others = (await this.presence.members(roomId)).filter((m) => m.user.id !== room.owner.id);
      const ownerOnline = (await this.presence.user(room.owner.id)) !== undefined;
      if (ownerOnline || others.length === 0) {
        if (room.ownerAwaySince !== null) await this.store.setOwnerAway(roomId, null);
        continue;
      }
      if (room.ownerAwaySince === null) {
        await this.store.setOwnerAway(roomId, now);
        continue;
      }
      if (now - room.ownerAwaySince < this.config.ownerAwayMs) continue;
      const next = others[0];
      const result = await this.write({ entry: this.newEntry(roomId, 'owner', next.user), ownerWas: room.owner.id });
      if ('entry' in result) {
        await this.store.setOwnerAway(roomId, null);
        this.logger.info(`room ${roomId}: owner ${room.owner.id} away since ${new Date(room.ownerAwaySince).toISOString()}, ownership passed to ${next.user.id}`);
      }
    }
  }

  /**
   * Retention (HISTORY_DAYS): deletes entries older than that, in steps of RETENTION_BATCH per
   * room and at most RETENTION_PASS_MAX entries per pass, with their GIFs; the rooms stay.
   * Resolves with what went and whether the pass saw every room through (`done`). Every
   * process may run it: a step finds nothing another already deleted.
   */
  async applyRetention(now: number): Promise<{ deleted: number; gifs: number; done: boolean }> {
    const before = now - this.config.historyDays * 86_400_000;
    let deleted = 0;
    let gifs = 0;
    for (const room of await this.store.rooms()) {
      for (;;) {
        if (this.closed) return { deleted, gifs, done: false };
        if (deleted >= RETENTION_PASS_MAX) return { deleted, gifs, done: false };
        const step = await this.store.pruneEntries(room.id, before, RETENTION_BATCH);
        if (step.gifs.length > 0) {
          await this.deps.gifs.remove(step.gifs);
          gifs += step.gifs.length;
        }
        deleted += step.deleted;
        if (step.deleted < RETENTION_BATCH) break;
      }
      // A cached tail may hold entries deleted here or by another process: read it again.
      this.cache.forget(room.id);
    }
    return { deleted, gifs, done: true };
  }

  /** Deletes rooms with no members and no new entries for ROOM_TTL_MS. */
  private async expireRooms(now: number): Promise<void> {
    const before = now - this.config.roomTtlMs;
    for (const roomId of await this.store.idleRooms(before)) {
      if (await this.remove(roomId, before)) this.logger.info(`room ${roomId} expired (idle since before ${new Date(before).toISOString()})`);
    }
  }

  // ---- life --------------------------------------------------------------

  /** Commits what is queued. */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  /** Stops the sweep, commits what is queued and drops pending lobby updates. */
  async close(): Promise<void> {
    this.closed = true;
    this.hashes.close();
    clearInterval(this.sweepTimer);
    clearInterval(this.beatTimer);
    await this.sweeping;
    await this.batcher.drain();
    this.updates.close();
  }
}
