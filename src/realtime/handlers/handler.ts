import type { Chat } from '../../chat/chat';
import type { Connection } from '../connection';
import type { Hub } from '../hub';
import { fail, RequestData, RequestEvent } from '../../protocol';
import type { SessionIdentity } from '../../sessions/session-identity';

/** A validated request as a handler sees it. */
export interface HandlerRequest<T> {
  chat: Chat;
  hub: Hub;
  identity: SessionIdentity;
  conn: Connection;
  data: T;
  /** The request's id, when it wants an ack. */
  id?: number;
  /**
   * Lets this socket's next frame start before this handler settles. Frames of one
   * socket are handled in order; a handler calls this once its order-sensitive part
   * is done (a message has its place in the room's order) so waiting for the commit
   * does not hold the socket up.
   */
  release(): void;
  /** Runs `fn` right after the reply went out (a join's buffered pushes follow its ack). */
  afterReply(fn: () => void): void;
}

/** Handles one event; what it returns (or resolves with) is the ack's data. */
export type Handler<E extends RequestEvent> = (req: HandlerRequest<RequestData<E>>) => unknown;

/** The dispatch table: one handler per client event. */
export type HandlerTable = { [E in RequestEvent]: Handler<E> };

/** Refuses a request for a room this socket is not in: `not_found` when the room does not exist, else `not_joined`. */
export async function notJoined(chat: Chat, room: string): Promise<never> {
  await chat.room(room);
  throw fail.notJoined(room);
}
