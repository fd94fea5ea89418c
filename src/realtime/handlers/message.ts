import { entryJson, RawJson } from '../../protocol';
import { Handler, notJoined } from './handler';

/** `message` {room, text, nonce?}: stores the message, pushes it to the room, acks the entry once committed. */
export const message: Handler<'message'> = async ({ chat, conn, data, release }) => {
  if (!conn.inRoom(data.room)) return notJoined(chat, data.room);
  // The per-user rate (across the user's sockets and processes): usually answered at once.
  const admitting = chat.admitMessage(conn.user.info);
  if (admitting) await admitting;
  const posted = chat.post(data.room, conn.user.info, { text: data.text }, data.nonce);
  release(); // the message holds its place in the room's order: the socket's next frame may start
  // The ack carries the same JSON as the push, encoded once.
  return new RawJson(entryJson(await posted));
};
