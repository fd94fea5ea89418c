/**
 * The protocol's shapes as the browser sees them: the server's own types (src/protocol),
 * imported type-only so nothing of the server reaches the browser, plus the few reply and
 * push shapes that only the client spells out (docs/protocol.md).
 *
 * Only `import type` / `export type` from ../src: a value import would compile (the
 * declarations have it) but would make the browser fetch a file that is not served.
 */
import type { Entry, Limits, RoomInfo, UserInfo } from '../src/protocol/types';

export type { Entry, Limits, MessageEntry, RoomInfo, SystemEntry, SystemKind, UserInfo, Whisper } from '../src/protocol/types';
export type { ErrorCode, UploadErrorCode } from '../src/protocol/errors';

/** The ack of `join`. */
export interface JoinAck {
  room: RoomInfo;
  members: UserInfo[];
  history: Entry[];
  more?: true;
}

/** The ack of `chatrooms`: a page of rooms, most recent activity first, and where the next page starts. */
export interface RoomsPage {
  rooms: RoomInfo[];
  cursor?: string;
}

/** The first frame of every socket. */
export interface Welcome {
  user: UserInfo;
  heartbeatMs: number;
  limits: Limits;
  /** Users this person muted (kept with their session). */
  muted: string[];
}

/**
 * `renamed`: with `room`, to the rooms the user is in (their member entry changes; their
 * old messages keep the name they were sent under); without, to the user's own sockets.
 */
export interface Renamed {
  room?: string;
  user: UserInfo;
}

/** `owner`: the room's owner changed. */
export interface OwnerChange {
  room: string;
  user: UserInfo;
}
