import { Handler } from './handler';

/** `typing` {room}: tells the room's other members this user is typing. Not stored. */
export const typing: Handler<'typing'> = ({ chat, conn, data }) => {
  const room = chat.memberRoom(data.room, conn.user);
  chat.publishRoom(room, 'typing', { room: room.id, user: conn.user.info }, conn.user.info.id);
  return {};
};
