import { Handler } from './handler';

/** `register` {name}: renames the user (unique among online users) and keeps it in their session. */
export const register: Handler<'register'> = async ({ chat, hub, identity, conn, data }) => {
  const user = await chat.rename(conn.user.info, data.name);
  hub.renamed(user); // this socket's next message carries the new name, whatever the bus does
  if (conn.sessionId) await identity.saveUser(conn.sessionId, user);
  return user;
};
