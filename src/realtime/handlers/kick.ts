import { fail } from '../../protocol/errors';
import { Handler } from './handler';

/** `kick` {room, user}: owner only; removes the user and bans them for a while. */
export const kick: Handler<'kick'> = ({ chat, conn, data }) => {
  const room = chat.ownedRoom(data.room, conn.user);
  if (data.user === conn.user.info.id) throw fail.invalid('user must not be yourself');
  chat.kick(room, data.user);
  return {};
};
