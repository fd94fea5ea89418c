import { Infer, int, obj, optional, str } from './schema';
import { DEFAULT_MAX_MEMBERS, ID_MAX, MEMBERS_MAX, MEMBERS_MIN, NAME_MAX, NONCE_MAX, PAGE_MAX, PASSWORD_MAX, TEXT_MAX, TITLE_MAX } from './types';

const id = str({ min: 1, max: ID_MAX });
const text = str({ min: 1, max: TEXT_MAX });

/** Field rules shared by the `create` event and the new-room form, so both refuse the same input. */
export const roomFields = {
  title: str({ min: 1, max: TITLE_MAX, trim: true, line: true }),
  max: int({ min: MEMBERS_MIN, max: MEMBERS_MAX }),
  password: str({ max: PASSWORD_MAX }),
};

/** Request schemas, one per client event. `history.limit` defaults are applied by the handler. */
export const requestSchemas = {
  register: obj({ name: str({ min: 1, max: NAME_MAX, trim: true, line: true }) }),
  chatrooms: obj({ cursor: optional(str({ min: 1, max: 128 })) }),
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
  mute: obj({ user: id }),
  unmute: obj({ user: id }),
};

/** Names of the events a client may send. */
export type RequestEvent = keyof typeof requestSchemas;

/** The validated data of a client event. */
export type RequestData<E extends RequestEvent> = Infer<(typeof requestSchemas)[E]>;
