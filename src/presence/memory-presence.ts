import { UserInfo } from '../protocol';
import { nameKey, nameKeys } from './name-key';
import { Departure, Presence, PresenceOptions, RoomMember, SocketRef } from './presence';

/** An open socket: whose it is and which rooms it is in. */
interface SocketState {
  node: NodeState;
  id: string;
  userId: string;
  /** A short array of exact size (most sockets are in one room): idle sockets are the bulk of memory. */
  rooms: readonly string[];
}

/** A server process: until when it counts as alive, and its open sockets by id. */
interface NodeState {
  name: string;
  expiresAt: number;
  sockets: Map<string, SocketState>;
}

/** An online user: their info (the one the members carry) and their open sockets. */
interface OnlineState {
  info: UserInfo;
  sockets: readonly SocketState[];
}

/** A user present in a room. */
interface MemberState {
  room: string;
  user: UserInfo;
  since: number;
  /** Breaks ties of `since`: a counter over every member ever added. */
  arrival: number;
  /** The user's sockets in the room; none while in grace. */
  sockets: readonly SocketState[];
  /** When the last socket left without an explicit leave; undefined while a socket is in. */
  goneAt: number | undefined;
  /** Changes whenever the grace starts, ends or the member goes: older grace entries no longer apply. */
  graceToken: number;
  removed: boolean;
}

/** A member whose grace started at `goneAt`; stale once the member's token moved on. */
interface GraceEntry {
  goneAt: number;
  member: MemberState;
  token: number;
}

/**
 * The in-process Presence: it serves the apps of one process (several, in tests, each
 * with its own node id). Every method does its work synchronously when called, so calls
 * made back to back apply in call order, and resolves at once (or rejects, for a misuse).
 * Every operation costs O(1) or O(size of its answer), but `activeRooms`, `users` and
 * `sweep` (which costs O(nodes + departures · log members in grace), whatever the number
 * of users or rooms).
 *
 * Where the interface is silent:
 * - `connect` of a socket already connected for the same user changes nothing (false); for
 *   another user it rejects (a socket belongs to one user). A node's first `connect` counts
 *   as a beat at Date.now() (it is alive for ttlMs from then); later ones do not extend it.
 * - A user coming online keeps the info they come with even when another online user holds
 *   their name (the claim stays with the first holder); `connect` of a user who is online
 *   already keeps the info stored (a change of name or color goes through `rename`).
 * - `rename` of a user who is not online resolves true when the name is free and changes
 *   nothing (no claim: the user is not online). A user whose name is held by another (a
 *   returning user, see above) cannot `rename` to that name, not even to change color.
 * - `join` with a socket that is not connected connects it first (as `connect` does, so a
 *   socket swept away by a node that was thought dead comes back); with a socket of another
 *   user it rejects. Members carry the user's online info: a `present` join refreshes it.
 *   A `full` join after such an implicit connect leaves the socket connected.
 * - `leave` of a socket not in the room resolves false and changes nothing.
 * - Grace started by `leave`/`disconnect` starts at Date.now(); `since` is Date.now() too.
 * - Once closed, the instance is empty and keeps working (a late `disconnect` of an app
 *   shutting down resolves false rather than rejecting).
 */
export function createMemoryPresence(options: PresenceOptions): Presence {
  const { graceMs, ttlMs } = options;
  const nodes = new Map<string, NodeState>();
  /** Online users by id, in order of arrival. */
  const online = new Map<string, OnlineState>();
  /** Lower-cased name → id of the online user who claimed it. */
  const names = new Map<string, string>();
  /** Room → its members by user id; a room without members has no entry. */
  const rooms = new Map<string, Map<string, MemberState>>();
  /** User id → the rooms they are a member of (grace included); no entry when none. */
  const roomsByUser = new Map<string, readonly string[]>();
  /** Members in grace, the earliest goneAt first (a binary min-heap, stale entries skipped). */
  const grace: GraceEntry[] = [];
  let arrivals = 0;
  let tokens = 0;

  /** `list` with `item` (once), as a new array of exact size (push would reserve 16 slots). */
  function withItem<T>(list: readonly T[], item: T): readonly T[] {
    return list.includes(item) ? list : [...list, item];
  }

  function without<T>(list: readonly T[], item: T): readonly T[] {
    return list.includes(item) ? list.filter((x) => x !== item) : list;
  }

  function socketOf(ref: SocketRef): SocketState | undefined {
    return nodes.get(ref.node)?.sockets.get(ref.socket);
  }

  function claim(name: string, userId: string): void {
    for (const key of nameKeys(nameKey(name))) if (!names.has(key)) names.set(key, userId);
  }

  function release(info: UserInfo): void {
    for (const key of nameKeys(nameKey(info.name))) if (names.get(key) === info.id) names.delete(key);
  }

  /** Registers a socket; true when its user came online with it. */
  function connectSocket(ref: SocketRef, user: UserInfo): boolean {
    let node = nodes.get(ref.node);
    if (node === undefined) {
      node = { name: ref.node, expiresAt: Date.now() + ttlMs, sockets: new Map() };
      nodes.set(ref.node, node);
    }
    const existing = node.sockets.get(ref.socket);
    if (existing !== undefined) {
      if (existing.userId !== user.id) throw new Error(`socket ${ref.node}/${ref.socket} belongs to another user`);
      return false;
    }
    const socket: SocketState = { node, id: ref.socket, userId: user.id, rooms: [] };
    node.sockets.set(ref.socket, socket);
    const state = online.get(user.id);
    if (state !== undefined) {
      state.sockets = withItem(state.sockets, socket);
      return false;
    }
    const info = Object.freeze({ ...user });
    online.set(user.id, { info, sockets: [socket] });
    claim(info.name, info.id);
    return true;
  }

  /** Forgets a socket, its rooms' grace starting at `goneAt`; true when its user went offline. */
  function dropSocket(socket: SocketState, goneAt: number): boolean {
    for (const room of socket.rooms) {
      const member = rooms.get(room)?.get(socket.userId);
      if (member === undefined) continue;
      member.sockets = without(member.sockets, socket);
      if (member.sockets.length === 0) startGrace(member, goneAt);
    }
    socket.rooms = [];
    socket.node.sockets.delete(socket.id);
    const state = online.get(socket.userId);
    if (state === undefined || !state.sockets.includes(socket)) return false;
    state.sockets = without(state.sockets, socket);
    if (state.sockets.length > 0) return false;
    online.delete(socket.userId);
    release(state.info);
    return true;
  }

  function startGrace(member: MemberState, goneAt: number): void {
    member.goneAt = goneAt;
    member.graceToken = ++tokens;
    heapPush({ goneAt, member, token: member.graceToken });
  }

  function removeMember(member: MemberState): void {
    member.removed = true;
    member.graceToken = ++tokens;
    for (const socket of member.sockets) socket.rooms = without(socket.rooms, member.room);
    member.sockets = [];
    const roomMembers = rooms.get(member.room);
    if (roomMembers !== undefined && roomMembers.get(member.user.id) === member) {
      roomMembers.delete(member.user.id);
      if (roomMembers.size === 0) rooms.delete(member.room);
    }
    const userRooms = roomsByUser.get(member.user.id);
    if (userRooms !== undefined) {
      const rest = without(userRooms, member.room);
      if (rest.length === 0) roomsByUser.delete(member.user.id);
      else roomsByUser.set(member.user.id, rest);
    }
  }

  function heapPush(entry: GraceEntry): void {
    let i = grace.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (grace[parent].goneAt <= entry.goneAt) break;
      grace[i] = grace[parent];
      i = parent;
    }
    grace[i] = entry;
  }

  function heapPop(): GraceEntry {
    const top = grace[0];
    const last = grace.pop()!;
    if (grace.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= grace.length) break;
        const right = left + 1;
        const child = right < grace.length && grace[right].goneAt < grace[left].goneAt ? right : left;
        if (grace[child].goneAt >= last.goneAt) break;
        grace[i] = grace[child];
        i = child;
      }
      grace[i] = last;
    }
    return top;
  }

  return {
    async beat(node, now) {
      const state = nodes.get(node);
      if (state === undefined) nodes.set(node, { name: node, expiresAt: now + ttlMs, sockets: new Map() });
      else state.expiresAt = now + ttlMs;
    },

    async connect(ref, user) {
      return connectSocket(ref, user);
    },

    async disconnect(ref) {
      const socket = socketOf(ref);
      return socket === undefined ? false : dropSocket(socket, Date.now());
    },

    async user(id) {
      return online.get(id)?.info;
    },

    async users() {
      const list: UserInfo[] = [];
      for (const state of online.values()) list.push(state.info);
      return list;
    },

    async userCount() {
      return online.size;
    },

    async rename(user) {
      const keys = nameKeys(nameKey(user.name));
      if (keys.some((key) => names.has(key) && names.get(key) !== user.id)) return false;
      const state = online.get(user.id);
      if (state === undefined) return true;
      release(state.info);
      const info = Object.freeze({ ...user });
      state.info = info;
      for (const key of keys) names.set(key, info.id);
      for (const room of roomsByUser.get(info.id) ?? []) {
        const member = rooms.get(room)?.get(info.id);
        if (member !== undefined) member.user = info;
      }
      return true;
    },

    async join(room, ref, user, max) {
      let socket = socketOf(ref);
      if (socket === undefined) {
        connectSocket(ref, user);
        socket = socketOf(ref)!;
      } else if (socket.userId !== user.id) {
        throw new Error(`socket ${ref.node}/${ref.socket} belongs to another user`);
      }
      const info = online.get(user.id)!.info;
      let roomMembers = rooms.get(room);
      const member = roomMembers?.get(user.id);
      if (member !== undefined) {
        member.sockets = withItem(member.sockets, socket);
        socket.rooms = withItem(socket.rooms, room);
        member.user = info;
        if (member.goneAt !== undefined) {
          member.goneAt = undefined;
          member.graceToken = ++tokens;
        }
        return 'present';
      }
      if ((roomMembers?.size ?? 0) >= max) return 'full';
      if (roomMembers === undefined) {
        roomMembers = new Map();
        rooms.set(room, roomMembers);
      }
      roomMembers.set(user.id, {
        room,
        user: info,
        since: Date.now(),
        arrival: ++arrivals,
        sockets: [socket],
        goneAt: undefined,
        graceToken: ++tokens,
        removed: false,
      });
      socket.rooms = withItem(socket.rooms, room);
      roomsByUser.set(user.id, withItem(roomsByUser.get(user.id) ?? [], room));
      return 'joined';
    },

    async leave(room, ref, explicit) {
      const socket = socketOf(ref);
      if (socket === undefined || !socket.rooms.includes(room)) return false;
      socket.rooms = without(socket.rooms, room);
      const member = rooms.get(room)?.get(socket.userId);
      if (member === undefined) return false;
      member.sockets = without(member.sockets, socket);
      if (member.sockets.length > 0) return false;
      if (explicit) {
        removeMember(member);
        return true;
      }
      startGrace(member, Date.now());
      return false;
    },

    async remove(room, userId) {
      const member = rooms.get(room)?.get(userId);
      if (member === undefined) return false;
      removeMember(member);
      return true;
    },

    async isMember(room, userId) {
      return rooms.get(room)?.has(userId) ?? false;
    },

    async members(room) {
      const roomMembers = rooms.get(room);
      if (roomMembers === undefined) return [];
      // Insertion order is arrival order; the sort only matters if the clock went back.
      const list = [...roomMembers.values()].sort((a, b) => a.since - b.since || a.arrival - b.arrival);
      return list.map((m): RoomMember => ({ user: m.user, since: m.since }));
    },

    async counts(list) {
      return list.map((room) => rooms.get(room)?.size ?? 0);
    },

    async roomsOf(userId) {
      const userRooms = roomsByUser.get(userId);
      return userRooms === undefined ? [] : [...userRooms];
    },

    async activeRooms() {
      return [...rooms.keys()];
    },

    async sweep(now) {
      for (const [name, node] of nodes) {
        if (node.expiresAt > now) continue;
        nodes.delete(name);
        for (const socket of node.sockets.values()) dropSocket(socket, node.expiresAt);
      }
      const departures: Departure[] = [];
      while (grace.length > 0 && grace[0].goneAt + graceMs <= now) {
        const { member, token } = heapPop();
        if (member.removed || member.graceToken !== token) continue;
        removeMember(member);
        departures.push({ room: member.room, user: member.user });
      }
      return departures;
    },

    async health() {
      return { kind: 'memory', state: 'up' as const };
    },

    async close() {
      nodes.clear();
      online.clear();
      names.clear();
      rooms.clear();
      roomsByUser.clear();
      grace.length = 0;
    },
  };
}
