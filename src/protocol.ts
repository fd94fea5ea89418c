/**
 * The wire protocol in one place: the envelope, the shapes of every event, the
 * request schemas, and the encoders. docs/protocol.md documents the same thing for
 * people; keep the two in step.
 */
import { ErrorCode } from './errors';
import { textFrame } from './frame';
import { Infer, int, obj, optional, str } from './schema';

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

const id = str({ min: 1, max: ID_MAX });
const text = str({ min: 1, max: TEXT_MAX });

/** Field rules shared by the `create` event and the new-room form, so both refuse the same input. */
export const roomFields = {
  title: str({ min: 1, max: TITLE_MAX, trim: true }),
  max: int({ min: MEMBERS_MIN, max: MEMBERS_MAX }),
  password: str({ max: PASSWORD_MAX }),
};

/** Request schemas, one per client event. `history.limit` defaults are applied by the handler. */
export const requestSchemas = {
  register: obj({ name: str({ min: 1, max: NAME_MAX, trim: true }) }),
  chatrooms: obj({}),
  create: obj({
    title: roomFields.title,
    max: optional(roomFields.max, DEFAULT_MAX_MEMBERS),
    password: optional(roomFields.password),
  }),
  join: obj({
    room: id,
    password: optional(str({ max: PASSWORD_MAX })),
    since: optional(int({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  }),
  leave: obj({ room: id }),
  message: obj({ room: id, text, nonce: optional(str({ min: 1, max: NONCE_MAX })) }),
  history: obj({
    room: id,
    before: optional(int({ min: 1, max: Number.MAX_SAFE_INTEGER })),
    limit: optional(int({ min: 1, max: PAGE_MAX })),
  }),
  availableUsers: obj({}),
  whisper: obj({ to: id, text }),
  typing: obj({ room: id }),
  kick: obj({ room: id, user: id }),
  transfer: obj({ room: id, user: id }),
  delete: obj({ room: id }),
};

/** Names of the events a client may send. */
export type RequestEvent = keyof typeof requestSchemas;

/** The validated data of a client event. */
export type RequestData<E extends RequestEvent> = Infer<(typeof requestSchemas)[E]>;

/** A parsed envelope whose data is not yet validated. */
export interface Envelope {
  event: string;
  data: unknown;
  id?: number;
}

/** Why an envelope was refused, with the id to answer when one could be read. */
export interface EnvelopeProblem {
  code: ErrorCode;
  message: string;
  id?: number;
}

function validId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Parses one text frame into an envelope, or says why not (`bad_json` or
 * `bad_envelope`). Never throws.
 */
export function parseEnvelope(raw: string): Envelope | EnvelopeProblem {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { code: 'bad_json', message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'bad_json', message: 'frame must be a JSON object' };
  }
  const frame = value as Record<string, unknown>;
  const hasId = Object.prototype.hasOwnProperty.call(frame, 'id');
  const rawId = hasId ? frame.id : undefined;
  if (hasId && !validId(rawId)) {
    return { code: 'bad_envelope', message: 'id must be a positive integer' };
  }
  const idPart = hasId ? { id: rawId as number } : {};
  const event = Object.prototype.hasOwnProperty.call(frame, 'event') ? frame.event : undefined;
  if (typeof event !== 'string') {
    return { code: 'bad_envelope', message: 'event must be a string', ...idPart };
  }
  const data = Object.prototype.hasOwnProperty.call(frame, 'data') ? frame.data : undefined;
  return { event, data, ...idPart };
}

/** True when parseEnvelope refused the frame. */
export function isProblem(result: Envelope | EnvelopeProblem): result is EnvelopeProblem {
  return (result as EnvelopeProblem).code !== undefined;
}

/** Data already encoded as JSON: acks embed it as is instead of encoding it again. */
export class RawJson {
  constructor(readonly json: string) {}
}

const ENTRY_JSON = Symbol('entryJson');

/**
 * An entry's JSON, encoded once and kept on the entry (a symbol key, which
 * JSON.stringify ignores): the push, the sender's ack, and every join and history
 * page that serves it from the history tail reuse the same string. Entries are not
 * changed once committed.
 */
export function entryJson(entry: Entry): string {
  const keep = entry as Entry & { [ENTRY_JSON]?: string };
  return (keep[ENTRY_JSON] ??= JSON.stringify(entry));
}

/** A JSON array of entries, from their kept JSON. */
export function entriesJson(entries: readonly Entry[]): string {
  return `[${entries.map(entryJson).join(',')}]`;
}

/** Encodes an entry push (`message` or `system`) from the entry's kept JSON. */
export function encodeEntry(event: 'message' | 'system', entry: Entry): Buffer {
  return textFrame(`{"event":"${event}","data":${entryJson(entry)}}`);
}

/** Encodes a server push as a complete WebSocket frame. Encode once, write the same bytes to every recipient. */
export function encodePush(event: string, data: unknown): Buffer {
  return textFrame(JSON.stringify({ event, data }));
}

/** Encodes the reply to a request that carried `id`, as a WebSocket frame. */
export function encodeAck(id: number, data: unknown): Buffer {
  if (data instanceof RawJson) return textFrame(`{"event":"ack","id":${id},"data":${data.json}}`);
  return textFrame(JSON.stringify({ event: 'ack', id, data: data === undefined ? {} : data }));
}

/** Encodes an error reply as a WebSocket frame; `id` is omitted when the request had none. */
export function encodeError(code: ErrorCode, message: string, id?: number): Buffer {
  return textFrame(JSON.stringify(id === undefined ? { event: 'error', data: { code, message } } : { event: 'error', id, data: { code, message } }));
}
