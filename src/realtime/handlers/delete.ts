import { Handler } from './handler';

/** `delete` {room}: owner only; removes the room and its history. */
export const remove: Handler<'delete'> = async ({ chat, conn, data }) => {
  const room = chat.ownedRoom(data.room, conn.user);
  await chat.deleteRoom(room);
  return {};
};
