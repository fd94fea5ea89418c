import { Handler } from './handler';

/** `message` {room, text, nonce?}: stores the message, pushes it to the room, acks the entry once committed. */
export const message: Handler<'message'> = ({ chat, conn, data, release }) => {
  const room = chat.memberRoom(data.room, conn.user);
  return chat.post(room, conn.user.info, { text: data.text }, data.nonce, release);
};
