import { roomInfo } from '../../chat/chat';
import { HistoryPage } from '../../chat/history-cache';
import { fail, RawJson, UserInfo } from '../../protocol';
import { Handler } from './handler';

/**
 * `join` {room, password?, since?}: enters the room (or resumes in it) and returns the
 * members and history. The socket follows the room's pushes (feed pending) before the
 * history is read, so pushes committed meanwhile follow the ack exactly once (see
 * Connection).
 */
export const join: Handler<'join'> = async ({ chat, hub, identity, conn, data, afterReply }) => {
  const user = conn.user.info;
  const sid = conn.sessionId;
  chat.checkReads(conn.address);
  const room = await chat.enter(data.room, user, conn.ref, {
    address: conn.address,
    password: data.password,
    hasGrant: async () => sid !== undefined && (await identity.hasGrant(sid, data.room)),
    grant: async () => {
      if (sid !== undefined) await identity.grant(sid, data.room);
    },
  });
  if (!hub.has(conn)) {
    // The socket closed while it was let in (a password check takes a while): forget it
    // again, as its close did, so it leaves no ghost behind.
    await chat.disconnect(conn.ref);
    throw fail.notJoined(room.id);
  }
  let history: HistoryPage;
  let more = false;
  let members: UserInfo[];
  try {
    await hub.attach(conn, room.id);
    if (data.since === undefined) {
      history = await chat.history(room.id, undefined, chat.historyLimit);
    } else {
      const resumed = await chat.resume(room.id, data.since, chat.resumeLimit);
      history = resumed;
      more = resumed.more;
    }
    members = await chat.members(room.id);
  } catch (err) {
    hub.detach(conn, room.id);
    await chat.drop(room.id, conn.ref).catch(() => {});
    throw err;
  }
  chat.chargeReads(conn.address, history.json.length);
  const floor = history.count > 0 ? history.last : (data.since ?? 0);
  afterReply(() => conn.settleFeed(room.id, floor, more));
  // {room, members, history[, more]}, with the history entries' kept JSON.
  const head = `{"room":${JSON.stringify(roomInfo(room, members.length))},"members":${JSON.stringify(members)},"history":${history.json}`;
  return new RawJson(more ? `${head},"more":true}` : `${head}}`);
};
