import { fail } from '../../protocol/errors';
import { newId } from '../../chat/identity';
import { Whisper } from '../../protocol';
import { Handler } from './handler';

/** `whisper` {to, text}: a private message to an online user, pushed to their sockets and the sender's. */
export const whisper: Handler<'whisper'> = ({ chat, conn, data }) => {
  const target = chat.users.get(data.to);
  if (!target) throw fail.notFound(`user ${data.to} is not online`);
  const entry: Whisper = { id: newId('w_'), from: conn.user.info, to: target.info, text: data.text, ts: Date.now() };
  chat.publishUsers([target.info.id, conn.user.info.id], 'whisper', entry);
  return entry;
};
