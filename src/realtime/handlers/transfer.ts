import { fail } from '../../protocol/errors';
import { Handler } from './handler';

/** `transfer` {room, user}: owner only; hands the room to a present member. */
export const transfer: Handler<'transfer'> = async ({ chat, conn, data }) => {
  const room = chat.ownedRoom(data.room, conn.user);
  const member = room.members.get(data.user);
  if (!member) throw fail.notFound(`user ${data.user} is not in room ${room.id}`);
  if (member.user.info.id !== room.owner.id) await chat.setOwner(room, member.user.info);
  return { room: room.id, user: member.user.info };
};
