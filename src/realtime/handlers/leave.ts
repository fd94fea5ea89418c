import { fail } from '../../protocol/errors';
import { Handler } from './handler';

/** `leave` {room}: takes this socket out of the room (the user leaves with their last socket). */
export const leave: Handler<'leave'> = ({ chat, conn, data }) => {
  const room = chat.room(data.room);
  if (!conn.inRoom(room.id)) throw fail.notJoined(room.id);
  chat.leaveRoom(conn, room, 'left');
  return {};
};
