/**
 * The one error vocabulary of the protocol. Codes are stable: clients switch on them.
 * Messages are for people and may change.
 */
export const errorCodes = [
  'bad_json',
  'bad_envelope',
  'unknown_event',
  'invalid_data',
  'not_found',
  'forbidden',
  'room_full',
  'name_taken',
  'not_joined',
  'rate_limited',
  'internal',
] as const;

/** Codes only the HTTP upload route answers with (as `{error: {code, message}}`). */
export const uploadErrorCodes = ['too_large', 'not_gif', 'no_file'] as const;

/** An upload refusal code. */
export type UploadErrorCode = (typeof uploadErrorCodes)[number];

/** One of the documented error codes. */
export type ErrorCode = (typeof errorCodes)[number];

/** An error meant for the client: its code and message are sent as they are. */
export class ChatError extends Error {
  override name = 'ChatError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Shorthand constructors, so handlers read as sentences. */
export const fail = {
  invalid: (message: string) => new ChatError('invalid_data', message),
  notFound: (message: string) => new ChatError('not_found', message),
  forbidden: (message: string) => new ChatError('forbidden', message),
  notJoined: (room: string) => new ChatError('not_joined', `join room ${room} first`),
};

/**
 * Turns anything thrown into what may be sent: a ChatError passes through;
 * anything else becomes `internal` with a fixed message, and `unexpected` is true
 * so the caller logs it (once) instead of sending it.
 */
export function toWireError(err: unknown): { code: ErrorCode; message: string; unexpected: boolean } {
  if (err instanceof ChatError) return { code: err.code, message: err.message, unexpected: false };
  return { code: 'internal', message: 'internal error', unexpected: true };
}

/** WebSocket close codes the server uses (RFC 6455 section 7.4.1). */
export const CloseCode = {
  /** Server shutting down. */
  goingAway: 1001,
  /** Text frame that is not valid UTF-8 (sent by ws itself). */
  invalidPayload: 1007,
  /** Kept flooding past the rate limit. */
  policyViolation: 1008,
  /** Frame larger than MAX_PAYLOAD (sent by ws itself). */
  messageTooBig: 1009,
} as const;
