import { RawJson } from '../../protocol';
import { Handler, notJoined } from './handler';

/** `history` {room, before?, limit?}: a page of older entries, oldest first. Members only. */
export const history: Handler<'history'> = async ({ chat, hub, conn, data }) => {
  if (!conn.inRoom(data.room)) return notJoined(chat, data.room);
  chat.checkReads(conn.address);
  hub.flushPresence(data.room); // the page may hold waiting presence: its pushes go out before the page
  const page = await chat.history(data.room, data.before, data.limit ?? chat.historyLimit);
  chat.chargeReads(conn.address, page.json.length);
  return new RawJson(page.json);
};
