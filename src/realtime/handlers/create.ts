import { Handler } from './handler';

/** `create` {title, max, password?}: a new room owned by the caller. */
export const create: Handler<'create'> = ({ chat, conn, data }) =>
  chat.createRoom(conn.user.info, data.title, data.max, data.password || undefined, conn.address);
