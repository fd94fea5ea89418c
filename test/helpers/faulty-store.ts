import { fail } from '../../src/protocol/errors';
import { AppendOp, Store } from '../../src/store/store';

/** A real Store that can be told to fail appends (fault tests). */
export interface FaultyStore extends Store {
  /** The next `n` append calls reject with `error` without reaching the real store. */
  failAppends(n: number, error?: Error): void;
  /** Until healed, an append whose batch holds an op matching `predicate` rejects with `error` without reaching the real store. */
  failWhen(predicate: (op: AppendOp) => boolean, error?: Error): void;
  /** Stops every injected fault. */
  heal(): void;
}

const injected = () => fail.unavailable('storage is unavailable: injected fault');

/**
 * Wraps a real store (not a mock: everything it does not fail is done by `inner`). A failed
 * append writes nothing, as a storage failure rolls back the whole batch; so a batcher that
 * retries the ops of a failed batch one by one isolates exactly the matching ops.
 */
export function faultyStore(inner: Store): FaultyStore {
  let failures = 0;
  let failuresError: Error | undefined;
  let predicate: ((op: AppendOp) => boolean) | undefined;
  let predicateError: Error | undefined;
  return {
    append: (ops) => {
      if (failures > 0) {
        failures--;
        return Promise.reject(failuresError ?? injected());
      }
      if (predicate !== undefined && ops.some(predicate)) return Promise.reject(predicateError ?? injected());
      return inner.append(ops);
    },
    failAppends: (n, error) => {
      failures = n;
      failuresError = error;
    },
    failWhen: (match, error) => {
      predicate = match;
      predicateError = error;
    },
    heal: () => {
      failures = 0;
      predicate = undefined;
    },
    health: () => inner.health(),
    usage: () => inner.usage(),
    createRoom: (room) => inner.createRoom(room),
    room: (id) => inner.room(id),
    rooms: () => inner.rooms(),
    roomsByActivity: (after, limit) => inner.roomsByActivity(after, limit),
    roomCount: () => inner.roomCount(),
    pruneBans: (now) => inner.pruneBans(now),
    deleteRoom: (id, idleBefore) => inner.deleteRoom(id, idleBefore),
    idleRooms: (before) => inner.idleRooms(before),
    pruneEntries: (room, before, limit) => inner.pruneEntries(room, before, limit),
    renameOwner: (user) => inner.renameOwner(user),
    setOwnerAway: (room, since) => inner.setOwnerAway(room, since),
    bannedUntil: (room, user, now, address) => inner.bannedUntil(room, user, now, address),
    banAddresses: (room, addresses, until) => inner.banAddresses(room, addresses, until),
    ownedRoomCount: (owner) => inner.ownedRoomCount(owner),
    entriesAfter: (room, since, limit) => inner.entriesAfter(room, since, limit),
    entriesBefore: (room, before, limit) => inner.entriesBefore(room, before, limit),
    getSession: (sid, now) => inner.getSession(sid, now),
    setSession: (sid, json, expires) => inner.setSession(sid, json, expires),
    touchSession: (sid, expires) => inner.touchSession(sid, expires),
    destroySession: (sid) => inner.destroySession(sid),
    pruneSessions: (now) => inner.pruneSessions(now),
    close: () => inner.close(),
  };
}
