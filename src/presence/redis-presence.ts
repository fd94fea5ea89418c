import { createHash, randomBytes } from 'node:crypto';
import { closeRedis, connectRedis } from '../bus/redis-bus';
import { checkHealth } from '../health';
import { Logger } from '../logger';
import { ChatError, fail } from '../protocol/errors';
import { UserInfo } from '../protocol';
import { nameKey } from './name-key';
import { Departure, JoinOutcome, Presence, PresenceOptions, RoomMember, SocketRef } from './presence';

/** Tuning of the Redis presence. */
export interface RedisPresenceOptions extends PresenceOptions {
  logger: Logger;
  /** Prefix of every key. Default `gifchat:presence:`. */
  prefix?: string;
  /** How long a request may wait for Redis before it fails with `unavailable`, in ms. Default 1000. */
  timeoutMs?: number;
  /** Most sockets of dead nodes plus ended graces one `sweep` handles (the rest: next sweep). Default 1000. */
  sweepBatch?: number;
}

/** The Redis presence: a Presence that also says when Redis lost its state. */
export type RedisPresence = Presence & {
  /**
   * Calls `listener` when the shared state was found lost (Redis restarted empty, or was
   * flushed): every process should then register its open sockets and their rooms again.
   */
  onReset(listener: () => void): () => void;
};

/*
 * Keys (P = the prefix). A socket's id is `<node length>:<node><socket>` (unambiguous).
 *   P nodes            ZSET  node → when it stops counting as alive (ms)
 *   P node:<node>      SET   the node's socket ids
 *   P sock:<sid>       HASH  u → user id, n → node, r:<room> → 1 for each room it is in
 *   P usocks:<uid>     SET   the user's socket ids (online while not empty)
 *   P online           ZSET  uid → arrival number (users() order)
 *   P info             HASH  uid → the online user's info (JSON)
 *   P lname            HASH  uid → the online user's name keys (nameKey: newline-separated, as claimed)
 *   P names            HASH  name key → uid holding it
 *   P members:<room>   ZSET  uid → arrival number (members() order)
 *   P member:<room>    HASH  uid → "<since>|<info JSON>"
 *   P msocks:<room>    HASH  uid → how many of the user's sockets are in the room (absent: in grace)
 *   P urooms:<uid>     SET   rooms the user is a member of (grace included)
 *   P rooms            SET   rooms with members
 *   P grace            ZSET  "<room length>:<room><uid>" → when the member's grace ends (ms)
 *   P seq              arrival counter
 *   P epoch            random; gone when Redis lost its state
 */

/** Shared by every script. ARGV: prefix, graceMs, ttlMs, now, then the script's own. */
const LIB = `
local P = ARGV[1]
local GRACE = tonumber(ARGV[2])
local TTL = tonumber(ARGV[3])
local NOW = tonumber(ARGV[4])

local function gkey(room, uid) return #room .. ':' .. room .. uid end
local function gsplit(key)
  local colon = string.find(key, ':', 1, true)
  local n = tonumber(string.sub(key, 1, colon - 1))
  return string.sub(key, colon + 1, colon + n), string.sub(key, colon + n + 1)
end
-- The keys of a nameKey (newline-separated).
local function keys_of(lname)
  local out = {}
  for k in string.gmatch(lname, '[^\\n]+') do out[#out + 1] = k end
  return out
end
-- A member record: "<since>|<info>".
local function since_of(rec) return string.sub(rec, 1, string.find(rec, '|', 1, true) - 1) end
local function info_of(rec) return string.sub(rec, string.find(rec, '|', 1, true) + 1) end

-- Registers a socket: -1 when it belongs to another user, 1 when its user came online, else 0.
local function connect_socket(sid, node, uid, info, lname)
  local skey = P .. 'sock:' .. sid
  local owner = redis.call('HGET', skey, 'u')
  if owner then
    if owner ~= uid then return -1 end
    return 0
  end
  -- A node's first socket counts as a beat; later ones do not extend it.
  if not redis.call('ZSCORE', P .. 'nodes', node) then redis.call('ZADD', P .. 'nodes', NOW + TTL, node) end
  redis.call('HSET', skey, 'u', uid, 'n', node)
  redis.call('SADD', P .. 'node:' .. node, sid)
  local usocks = P .. 'usocks:' .. uid
  redis.call('SADD', usocks, sid)
  if redis.call('SCARD', usocks) > 1 then return 0 end
  redis.call('ZADD', P .. 'online', redis.call('INCR', P .. 'seq'), uid)
  redis.call('HSET', P .. 'info', uid, info)
  redis.call('HSET', P .. 'lname', uid, lname)
  for _, k in ipairs(keys_of(lname)) do redis.call('HSETNX', P .. 'names', k, uid) end
  return 1
end

local function remove_member(room, uid)
  for _, sid in ipairs(redis.call('SMEMBERS', P .. 'usocks:' .. uid)) do
    redis.call('HDEL', P .. 'sock:' .. sid, 'r:' .. room)
  end
  redis.call('HDEL', P .. 'msocks:' .. room, uid)
  redis.call('ZREM', P .. 'members:' .. room, uid)
  redis.call('HDEL', P .. 'member:' .. room, uid)
  if redis.call('ZCARD', P .. 'members:' .. room) == 0 then redis.call('SREM', P .. 'rooms', room) end
  redis.call('SREM', P .. 'urooms:' .. uid, room)
  redis.call('ZREM', P .. 'grace', gkey(room, uid))
end

-- Forgets a socket, the grace of members it was the last socket of starting at gone: 1 when its user went offline.
local function drop_socket(sid, gone)
  local skey = P .. 'sock:' .. sid
  local fields = redis.call('HGETALL', skey)
  if #fields == 0 then return 0 end
  local uid, node
  local rooms = {}
  for i = 1, #fields, 2 do
    local f = fields[i]
    if f == 'u' then uid = fields[i + 1]
    elseif f == 'n' then node = fields[i + 1]
    else rooms[#rooms + 1] = string.sub(f, 3) end
  end
  for _, room in ipairs(rooms) do
    if redis.call('HINCRBY', P .. 'msocks:' .. room, uid, -1) <= 0 then
      redis.call('HDEL', P .. 'msocks:' .. room, uid)
      if redis.call('HEXISTS', P .. 'member:' .. room, uid) == 1 then
        redis.call('ZADD', P .. 'grace', gone + GRACE, gkey(room, uid))
      end
    end
  end
  redis.call('DEL', skey)
  redis.call('SREM', P .. 'node:' .. node, sid)
  local usocks = P .. 'usocks:' .. uid
  redis.call('SREM', usocks, sid)
  if redis.call('SCARD', usocks) > 0 then return 0 end
  redis.call('ZREM', P .. 'online', uid)
  local lname = redis.call('HGET', P .. 'lname', uid)
  if lname then
    for _, k in ipairs(keys_of(lname)) do
      if redis.call('HGET', P .. 'names', k) == uid then redis.call('HDEL', P .. 'names', k) end
    end
  end
  redis.call('HDEL', P .. 'info', uid)
  redis.call('HDEL', P .. 'lname', uid)
  return 1
end
`;

/** The scripts, each LIB plus its body. */
const SCRIPTS = {
  /** ARGV 5: node, 6: a new epoch (set when none). Returns the epoch. */
  beat: `
redis.call('ZADD', P .. 'nodes', NOW + TTL, ARGV[5])
local epoch = redis.call('GET', P .. 'epoch')
if epoch then return epoch end
redis.call('SET', P .. 'epoch', ARGV[6])
return ARGV[6]`,
  /** ARGV 5: sid, 6: node, 7: uid, 8: info, 9: name keys (nameKey). */
  connect: `return connect_socket(ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])`,
  /** ARGV 5: sid. */
  disconnect: `return drop_socket(ARGV[5], NOW)`,
  /** ARGV 5: uid, 6: info, 7: name keys (nameKey). 1: renamed (or free, for a user not online), 0: taken. */
  rename: `
local uid, info, lname = ARGV[5], ARGV[6], ARGV[7]
local keys = keys_of(lname)
for _, k in ipairs(keys) do
  local holder = redis.call('HGET', P .. 'names', k)
  if holder and holder ~= uid then return 0 end
end
if not redis.call('ZSCORE', P .. 'online', uid) then return 1 end
local old = redis.call('HGET', P .. 'lname', uid)
if old then
  for _, k in ipairs(keys_of(old)) do
    if redis.call('HGET', P .. 'names', k) == uid then redis.call('HDEL', P .. 'names', k) end
  end
end
redis.call('HSET', P .. 'info', uid, info)
redis.call('HSET', P .. 'lname', uid, lname)
for _, k in ipairs(keys) do redis.call('HSET', P .. 'names', k, uid) end
for _, room in ipairs(redis.call('SMEMBERS', P .. 'urooms:' .. uid)) do
  local mhash = P .. 'member:' .. room
  local rec = redis.call('HGET', mhash, uid)
  if rec then redis.call('HSET', mhash, uid, since_of(rec) .. '|' .. info) end
end
return 1`,
  /** ARGV 5: room, 6: sid, 7: node, 8: uid, 9: info, 10: name keys (nameKey), 11: max. 1 joined, 2 present, 3 full, -1 another user's socket. */
  join: `
local room, sid, uid = ARGV[5], ARGV[6], ARGV[8]
local skey = P .. 'sock:' .. sid
local owner = redis.call('HGET', skey, 'u')
if owner and owner ~= uid then return -1 end
if not owner then connect_socket(sid, ARGV[7], uid, ARGV[9], ARGV[10]) end
local online = redis.call('HGET', P .. 'info', uid)
local mhash = P .. 'member:' .. room
local rec = redis.call('HGET', mhash, uid)
if rec then
  if redis.call('HSETNX', skey, 'r:' .. room, '1') == 1 then redis.call('HINCRBY', P .. 'msocks:' .. room, uid, 1) end
  redis.call('HSET', mhash, uid, since_of(rec) .. '|' .. online)
  redis.call('ZREM', P .. 'grace', gkey(room, uid))
  return 2
end
local members = P .. 'members:' .. room
if redis.call('ZCARD', members) >= tonumber(ARGV[11]) then return 3 end
redis.call('ZADD', members, redis.call('INCR', P .. 'seq'), uid)
redis.call('HSET', mhash, uid, ARGV[4] .. '|' .. online)
redis.call('HSET', skey, 'r:' .. room, '1')
redis.call('HSET', P .. 'msocks:' .. room, uid, 1)
redis.call('SADD', P .. 'rooms', room)
redis.call('SADD', P .. 'urooms:' .. uid, room)
return 1`,
  /** ARGV 5: room, 6: sid, 7: '1' when explicit. 1 when the user left (record it). */
  leave: `
local room, sid = ARGV[5], ARGV[6]
local skey = P .. 'sock:' .. sid
local uid = redis.call('HGET', skey, 'u')
if not uid then return 0 end
if redis.call('HDEL', skey, 'r:' .. room) == 0 then return 0 end
if redis.call('HINCRBY', P .. 'msocks:' .. room, uid, -1) > 0 then return 0 end
redis.call('HDEL', P .. 'msocks:' .. room, uid)
if redis.call('HEXISTS', P .. 'member:' .. room, uid) == 0 then return 0 end
if ARGV[7] == '1' then
  remove_member(room, uid)
  return 1
end
redis.call('ZADD', P .. 'grace', NOW + GRACE, gkey(room, uid))
return 0`,
  /** ARGV 5: room, 6: uid. */
  remove: `
if redis.call('HEXISTS', P .. 'member:' .. ARGV[5], ARGV[6]) == 0 then return 0 end
remove_member(ARGV[5], ARGV[6])
return 1`,
  /**
   * ARGV 5: batch. Drops dead nodes' sockets (their members' grace starting when the node
   * died), then removes members whose grace ended and returns them: room, info, room, info…
   */
  sweep: `
local budget = tonumber(ARGV[5])
local dead = redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', NOW, 'WITHSCORES', 'LIMIT', 0, 64)
for i = 1, #dead, 2 do
  if budget <= 0 then break end
  local node, expired = dead[i], tonumber(dead[i + 1])
  local nkey = P .. 'node:' .. node
  local sids = redis.call('SPOP', nkey, budget)
  for _, sid in ipairs(sids) do drop_socket(sid, expired) end
  budget = budget - #sids
  if redis.call('SCARD', nkey) == 0 then redis.call('ZREM', P .. 'nodes', node) end
end
local out = {}
if budget <= 0 then return out end
for _, key in ipairs(redis.call('ZRANGEBYSCORE', P .. 'grace', '-inf', NOW, 'LIMIT', 0, budget)) do
  local room, uid = gsplit(key)
  local rec = redis.call('HGET', P .. 'member:' .. room, uid)
  if rec then
    remove_member(room, uid)
    out[#out + 1] = room
    out[#out + 1] = info_of(rec)
  else
    redis.call('ZREM', P .. 'grace', key)
  end
end
return out`,
  users: `
local out = {}
for i, uid in ipairs(redis.call('ZRANGE', P .. 'online', 0, -1)) do out[i] = redis.call('HGET', P .. 'info', uid) end
return out`,
  /** ARGV 5: room. Member records, longest present first. */
  members: `
local out = {}
local mhash = P .. 'member:' .. ARGV[5]
for i, uid in ipairs(redis.call('ZRANGE', P .. 'members:' .. ARGV[5], 0, -1)) do out[i] = redis.call('HGET', mhash, uid) end
return out`,
  /** ARGV 5…: rooms. */
  counts: `
local out = {}
for i = 5, #ARGV do out[#out + 1] = redis.call('ZCARD', P .. 'members:' .. ARGV[i]) end
return out`,
} as const;

type ScriptName = keyof typeof SCRIPTS;

/** Each script's full text and its SHA1 (for EVALSHA). */
const COMPILED = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, body]) => {
    const text = LIB + body;
    return [name, { text, sha: createHash('sha1').update(text).digest('hex') }];
  }),
) as Record<ScriptName, { text: string; sha: string }>;

const socketId = (ref: SocketRef) => `${ref.node.length}:${ref.node}${ref.socket}`;
const infoJson = (user: UserInfo) => JSON.stringify({ id: user.id, name: user.name, color: user.color });

/** Thrown (as the memory presence does) for a socket used with another user: a caller's bug. */
const anotherUser = (ref: SocketRef) => new Error(`socket ${ref.node}/${ref.socket} belongs to another user`);

/**
 * Presence in Redis, shared by every server process. Each step that reads and writes is one
 * Lua script (atomic; EVALSHA, EVAL when Redis lost its script cache). Behaves as the memory
 * presence, including where the interface is silent (see memory-presence.ts), with these
 * differences:
 * - Times: `since` and the start of a grace are the calling process's Date.now().
 * - Members come in the order Redis admitted them (an arrival counter), ties impossible.
 * - Once closed, calls that only release or read resolve as on an empty presence (a late
 *   `disconnect` of an app shutting down resolves false); `connect`, `join` and `rename`
 *   reject with `unavailable`. The shared state is not touched by close().
 * - Redis down, or not answering within `timeoutMs`: every call rejects with ChatError
 *   `unavailable` (at once while the client is reconnecting). A call that timed out may
 *   still have been applied.
 * - Liveness of nodes is a score (expiry time) in a sorted set, compared with the `now`
 *   given to `sweep`; any live process's sweep removes a dead node's sockets, so a crashed
 *   process leaves no ghosts once one process sweeps. `sweep` costs O(log n) when nothing
 *   is due, and handles at most `sweepBatch` sockets and departures per call.
 * - `onReset` listeners are called when the state was found lost (checked by every `beat`
 *   and after each reconnect).
 */
export async function openRedisPresence(url: string, options: RedisPresenceOptions): Promise<RedisPresence> {
  const { logger, graceMs, ttlMs } = options;
  const prefix = options.prefix ?? 'gifchat:presence:';
  const timeoutMs = options.timeoutMs ?? 1000;
  const sweepBatch = options.sweepBatch ?? 1000;
  const client = await connectRedis(url, 'presence', logger, {
    timeoutMs,
    extra: { disableOfflineQueue: true, commandOptions: { timeout: timeoutMs } },
  });
  let closed = false;
  let closing: Promise<void> | undefined;
  const resetListeners = new Set<() => void>();

  const unavailable = (err: unknown) =>
    err instanceof ChatError ? err : fail.unavailable(`presence is unavailable: ${err instanceof Error ? err.message || err.name : String(err)}`);

  /** One command; Redis's errors become `unavailable`. */
  async function call<T>(args: string[]): Promise<T> {
    try {
      return (await client.sendCommand(args)) as T;
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Runs a script by its SHA1, loading it when Redis does not have it. */
  async function run<T>(name: ScriptName, now: number, args: string[]): Promise<T> {
    const { sha, text } = COMPILED[name];
    const argv = [prefix, String(graceMs), String(ttlMs), String(Math.floor(now)), ...args];
    try {
      try {
        return (await client.sendCommand(['EVALSHA', sha, '0', ...argv])) as T;
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return (await client.sendCommand(['EVAL', text, '0', ...argv])) as T;
      }
    } catch (err) {
      throw unavailable(err);
    }
  }

  // The epoch this instance knows: another one means the state was lost meanwhile.
  let epoch: string | undefined;
  function sawEpoch(seen: string): void {
    if (epoch === undefined || seen === epoch) {
      epoch = seen;
      return;
    }
    epoch = seen;
    logger.warn('presence: the shared state in Redis was lost (restarted empty, or flushed); asking for it to be rebuilt');
    for (const listener of [...resetListeners]) {
      try {
        listener();
      } catch (err) {
        logger.error('presence: an onReset listener threw', err);
      }
    }
  }
  async function checkEpoch(): Promise<void> {
    const fresh = randomBytes(9).toString('base64url');
    await call(['SET', `${prefix}epoch`, fresh, 'NX']);
    const seen = await call<string | null>(['GET', `${prefix}epoch`]);
    if (seen !== null) sawEpoch(seen);
  }
  try {
    await checkEpoch();
  } catch (err) {
    await closeRedis(client);
    throw err;
  }
  // Every later 'ready' is a reconnect: was the state lost meanwhile? (If this check fails, the next beat's does it.)
  client.on('ready', () => {
    if (!closed) checkEpoch().catch(() => {});
  });

  const closedError = () => fail.unavailable('presence is closed');

  return {
    health: () =>
      closed
        ? Promise.resolve({ kind: 'redis', state: 'down' as const, detail: 'presence is closed' })
        : checkHealth('redis', async () => void (await call(['PING']))),

    async beat(node, now) {
      if (closed) return;
      const seen = await run<string>('beat', now, [node, randomBytes(9).toString('base64url')]);
      sawEpoch(String(seen));
    },

    async connect(ref, user) {
      if (closed) throw closedError();
      const got = await run<number>('connect', Date.now(), [socketId(ref), ref.node, user.id, infoJson(user), nameKey(user.name)]);
      if (got === -1) throw anotherUser(ref);
      return got === 1;
    },

    async disconnect(ref) {
      if (closed) return false;
      return (await run<number>('disconnect', Date.now(), [socketId(ref)])) === 1;
    },

    async user(id) {
      if (closed) return undefined;
      const json = await call<string | null>(['HGET', `${prefix}info`, id]);
      return json === null ? undefined : (JSON.parse(json) as UserInfo);
    },

    async users() {
      if (closed) return [];
      const list = await run<(string | null)[]>('users', Date.now(), []);
      return list.filter((json): json is string => typeof json === 'string').map((json) => JSON.parse(json) as UserInfo);
    },

    async userCount() {
      if (closed) return 0;
      return Number(await call<number>(['ZCARD', `${prefix}online`]));
    },

    async rename(user) {
      if (closed) throw closedError();
      return (await run<number>('rename', Date.now(), [user.id, infoJson(user), nameKey(user.name)])) === 1;
    },

    async join(room, ref, user, max) {
      if (closed) throw closedError();
      const got = await run<number>('join', Date.now(), [room, socketId(ref), ref.node, user.id, infoJson(user), nameKey(user.name), String(max)]);
      if (got === -1) throw anotherUser(ref);
      const outcomes: Record<number, JoinOutcome> = { 1: 'joined', 2: 'present', 3: 'full' };
      return outcomes[got];
    },

    async leave(room, ref, explicit) {
      if (closed) return false;
      return (await run<number>('leave', Date.now(), [room, socketId(ref), explicit ? '1' : '0'])) === 1;
    },

    async remove(room, userId) {
      if (closed) return false;
      return (await run<number>('remove', Date.now(), [room, userId])) === 1;
    },

    async isMember(room, userId) {
      if (closed) return false;
      return Number(await call<number>(['HEXISTS', `${prefix}member:${room}`, userId])) === 1;
    },

    async members(room) {
      if (closed) return [];
      const records = await run<(string | null)[]>('members', Date.now(), [room]);
      const list: RoomMember[] = [];
      for (const rec of records) {
        if (typeof rec !== 'string') continue;
        const bar = rec.indexOf('|');
        list.push({ user: JSON.parse(rec.slice(bar + 1)) as UserInfo, since: Number(rec.slice(0, bar)) });
      }
      return list;
    },

    async counts(rooms) {
      if (closed || rooms.length === 0) return rooms.map(() => 0);
      return (await run<number[]>('counts', Date.now(), [...rooms])).map(Number);
    },

    async roomsOf(userId) {
      if (closed) return [];
      return call<string[]>(['SMEMBERS', `${prefix}urooms:${userId}`]);
    },

    async activeRooms() {
      if (closed) return [];
      return call<string[]>(['SMEMBERS', `${prefix}rooms`]);
    },

    async sweep(now) {
      if (closed) return [];
      const flat = await run<string[]>('sweep', now, [String(sweepBatch)]);
      const departures: Departure[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) departures.push({ room: flat[i], user: JSON.parse(flat[i + 1]) as UserInfo });
      return departures;
    },

    onReset(listener) {
      resetListeners.add(listener);
      return () => void resetListeners.delete(listener);
    },

    close() {
      closed = true;
      resetListeners.clear();
      closing ??= closeRedis(client);
      return closing;
    },
  };
}
