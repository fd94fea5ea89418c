import { fail } from '../../protocol';
import { Handler } from './handler';

/** `kick` {room, user}: owner only; removes the user and bans them for a while. */
export const kick: Handler<'kick'> = async ({ chat, conn, data }) => {
  if (data.user === conn.user.info.id) throw fail.invalid('user must not be yourself');
  await chat.kick(data.room, conn.user.info, data.user);
  return {};
};
