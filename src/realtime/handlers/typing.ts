import { Handler, notJoined } from './handler';

/** `typing` {room}: tells the room's other members this user is typing. Not stored. */
export const typing: Handler<'typing'> = async ({ chat, conn, data }) => {
  if (!conn.inRoom(data.room)) return notJoined(chat, data.room);
  chat.typing(data.room, conn.user.info);
  return {};
};
