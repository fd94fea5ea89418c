import { Handler } from './handler';

/** `delete` {room}: owner only; removes the room, its history and its GIFs. */
export const remove: Handler<'delete'> = async ({ chat, conn, data }) => {
  await chat.deleteRoom(data.room, conn.user.info);
  return {};
};
