import { Handler, notJoined } from './handler';

/** `leave` {room}: takes this socket out of the room (the user leaves with their last socket, recorded at once). */
export const leave: Handler<'leave'> = async ({ chat, hub, conn, data }) => {
  if (!conn.inRoom(data.room)) return notJoined(chat, data.room);
  hub.detach(conn, data.room);
  await chat.leave(data.room, conn.user.info, conn.ref);
  return {};
};
