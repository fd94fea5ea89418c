import { fail } from '../../protocol';
import { Handler } from './handler';

/** `kick` {room, user}: owner only; removes the user and bans them, and the addresses of their sockets, for a while. */
export const kick: Handler<'kick'> = async ({ chat, hub, conn, data }) => {
  if (data.user === conn.user.info.id) throw fail.invalid('user must not be yourself');
  // The addresses of their sockets here are banned before the ack; other processes ban theirs on hearing of the kick.
  const addresses = [...new Set(hub.socketsOf(data.user).map((c) => c.address))];
  await chat.kick(data.room, conn.user.info, data.user, addresses);
  return {};
};
