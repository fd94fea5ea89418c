import { fail } from '../../protocol';
import { nextMuted } from '../../sessions/session-identity';
import { Handler, HandlerRequest } from './handler';

/**
 * Mutes or unmutes a user for the caller: kept in the caller's session (it survives a
 * reconnect), applied at once to their sockets here and told to their sockets on every
 * process. A socket without a session keeps it for the user's sockets on this process.
 */
async function setMuted({ chat, hub, identity, conn }: HandlerRequest<unknown>, userId: string, on: boolean): Promise<object> {
  const me = conn.user.info.id;
  if (userId === me) throw fail.invalid('you cannot mute yourself');
  const sid = conn.sessionId;
  const muted = (sid !== undefined ? await identity.setMuted(sid, userId, on) : undefined) ?? nextMuted([...(conn.user.muted ?? [])], userId, on);
  hub.setMuted(me, muted);
  chat.muted(me, muted);
  return {};
}

/** `mute` {user}: that user's whispers and typing no longer reach the caller. Any well-formed id may be muted (an offline user may come back). */
export const mute: Handler<'mute'> = (req) => setMuted(req, req.data.user, true);

/** `unmute` {user}: undoes `mute` (unmuting someone not muted is a no-op). */
export const unmute: Handler<'unmute'> = (req) => setMuted(req, req.data.user, false);
