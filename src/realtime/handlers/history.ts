import { RawJson } from '../../protocol';
import { Handler } from './handler';

/** `history` {room, before?, limit?}: a page of older entries, oldest first. Members only. */
export const history: Handler<'history'> = async ({ chat, conn, data }) => {
  const room = chat.memberRoom(data.room, conn.user);
  chat.releasePresence(room); // the page may hold waiting presence: its pushes go out before the page
  const page = await chat.history.before(room.id, data.before, data.limit ?? chat.config.historyLimit);
  return new RawJson(page.json);
};
