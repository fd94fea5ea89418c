import { ChatError, fail } from '../../protocol/errors';
import { verifyPassword } from '../../chat/password';
import { HistoryPage } from '../../chat/history-cache';
import { RawJson } from '../../protocol';
import { Handler } from './handler';

/**
 * `join` {room, password?, since?}: enters the room (or resumes in it) and returns the
 * members and history. The socket's feed stays pending while history is read, so pushes
 * committed meanwhile follow the ack exactly once (see Connection).
 */
export const join: Handler<'join'> = async ({ chat, identity, conn, data, afterReply }) => {
  const user = conn.user.info;
  let room = chat.room(data.room);
  const present = room.members.has(user.id);
  if (!present) {
    if (room.banned(user.id, Date.now())) throw fail.forbidden('you were kicked from this room; try again later');
    if (room.passwordHash !== null) {
      const sid = conn.sessionId;
      const ok =
        data.password !== undefined
          ? await verifyPassword(data.password, room.passwordHash)
          : sid !== undefined && (await identity.hasGrant(sid, room.id));
      if (!ok) throw fail.forbidden(data.password === undefined ? 'this room needs a password' : 'wrong password');
      if (data.password !== undefined && sid !== undefined) await identity.grant(sid, room.id);
      room = chat.room(data.room); // it may have been deleted while the password was checked
    }
    if (!room.members.has(user.id) && room.members.size >= room.max) {
      throw new ChatError('room_full', `room ${room.id} is full (${room.max} members)`);
    }
  }
  chat.enterRoom(conn, room);

  let history: HistoryPage;
  let more = false;
  try {
    if (data.since === undefined) {
      history = await chat.history.before(room.id, undefined, chat.config.historyLimit);
    } else {
      const resumed = await chat.history.after(room.id, data.since, chat.config.resumeLimit);
      history = resumed;
      more = resumed.more;
    }
  } catch (err) {
    chat.leaveRoom(conn, room, 'left');
    throw err;
  }
  const floor = history.count > 0 ? history.last : (data.since ?? 0);
  afterReply(() => conn.settleFeed(room.id, floor, more));
  const members = [...room.members.values()].map((m) => m.user.info);
  // {room, members, history[, more]}, with the history entries' kept JSON.
  const head = `{"room":${JSON.stringify(room.info())},"members":${JSON.stringify(members)},"history":${history.json}`;
  return new RawJson(more ? `${head},"more":true}` : `${head}}`);
};
