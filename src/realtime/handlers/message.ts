import { entryJson, RawJson } from '../../protocol';
import { Handler } from './handler';

/** `message` {room, text, nonce?}: stores the message, pushes it to the room, acks the entry once committed. */
export const message: Handler<'message'> = async ({ chat, conn, data, release }) => {
  const room = chat.memberRoom(data.room, conn.user);
  // The ack carries the same JSON as the push, encoded once.
  return new RawJson(entryJson(await chat.post(room, conn.user.info, { text: data.text }, data.nonce, release)));
};
