import { Handler } from './handler';

/** `register` {name}: renames the user (unique among online users) and keeps it in their session. */
export const register: Handler<'register'> = async ({ chat, identity, conn, data }) => {
  const user = await chat.rename(conn.user.info, data.name);
  if (conn.sessionId) await identity.saveUser(conn.sessionId, user);
  return user;
};
