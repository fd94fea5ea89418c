import { Handler } from './handler';

/** `whisper` {to, text}: a private message to an online user, pushed to their sockets and the sender's. */
export const whisper: Handler<'whisper'> = ({ chat, conn, data }) => chat.whisper(conn.user.info, data.to, data.text);
