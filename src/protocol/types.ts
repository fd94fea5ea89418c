/**
 * The objects of the wire protocol and the limits it fixes. docs/protocol.md documents
 * the same for people; keep the two in step. The browser client imports these types.
 */
/** A user as every other client sees them. */
export interface UserInfo {
  id: string;
  name: string;
  color: string;
}

/** What a system entry records. */
export type SystemKind = 'joined' | 'left' | 'kicked' | 'owner';

/** A chat message in a room (pushed as `message`). */
export interface MessageEntry {
  room: string;
  seq: number;
  user: UserInfo;
  text?: string;
  gif?: string;
  /**
   * With `gif`, when known: the GIF's size in pixels (integers, from its logical screen
   * descriptor), so a client can reserve the image's box before it loads.
   */
  width?: number;
  height?: number;
  ts: number;
  nonce?: string;
}

/** A membership change in a room (pushed as `system`). */
export interface SystemEntry {
  room: string;
  seq: number;
  kind: SystemKind;
  user: UserInfo;
  ts: number;
}

/** Anything in a room's history; system entries are the ones with `kind`. */
export type Entry = MessageEntry | SystemEntry;

/** A room as listed in `chatrooms` and lobby pushes. */
export interface RoomInfo {
  id: string;
  title: string;
  max: number;
  members: number;
  locked: boolean;
  owner: UserInfo;
  /** Time (ms since epoch) of the newest entry, or of creation. */
  lastActivity: number;
}

/** A private message between two users; not part of any room, not stored. */
export interface Whisper {
  id: string;
  from: UserInfo;
  to: UserInfo;
  text: string;
  ts: number;
}

/** Sizes a client should know before it sends anything (sent in `welcome`). */
export interface Limits {
  maxPayload: number;
  ratePerSec: number;
  rateBurst: number;
  historyLimit: number;
  resumeLimit: number;
  nameMax: number;
  titleMax: number;
  textMax: number;
  passwordMax: number;
  membersMin: number;
  membersMax: number;
  maxUploadBytes: number;
}

/** Length limits fixed by the protocol. */
export const NAME_MAX = 32;
export const TITLE_MAX = 64;
export const TEXT_MAX = 4000;
export const PASSWORD_MAX = 128;
export const NONCE_MAX = 64;
export const ID_MAX = 64;
export const MEMBERS_MIN = 2;
export const MEMBERS_MAX = 10_000;
export const DEFAULT_MAX_MEMBERS = 10;
export const PAGE_MAX = 100;
/** Most users one user may have muted at once. */
export const MUTES_MAX = 1000;
