/**
 * The one error vocabulary of the server, WebSocket and HTTP alike: each code with the
 * HTTP status it is answered with over HTTP. Codes are stable: clients switch on them.
 * Messages are for people and may change. Reply errors are apart from close codes
 * (CloseCode, below).
 */
export const errorStatus = {
  bad_json: 400,
  bad_envelope: 400,
  unknown_event: 400,
  invalid_data: 400,
  not_found: 404,
  forbidden: 403,
  /** Kicked from the room recently; the message says until when. */
  banned: 403,
  room_full: 409,
  name_taken: 409,
  not_joined: 409,
  rate_limited: 429,
  /** A dependency (the database, the bus) is down or full: nothing was changed, retry later. */
  unavailable: 503,
  internal: 500,
  /** The server's storage budget (STORAGE_MAX_BYTES) is used up: new messages and uploads are refused, reads work. */
  storage_full: 507,
  // HTTP upload refusals (POST /room/:id/gif), answered as {error: {code, message}}.
  too_large: 413,
  not_gif: 415,
  no_file: 400,
  /** The upload's body stalled (no bytes for UPLOAD_IDLE_MS) or took longer than UPLOAD_TIMEOUT_MS. */
  too_slow: 408,
} as const;

/** Any code of the vocabulary. */
export type AnyErrorCode = keyof typeof errorStatus;

/** Codes only the HTTP upload route answers with. */
export const uploadErrorCodes = ['too_large', 'not_gif', 'no_file', 'too_slow'] as const;

/** An upload refusal code. */
export type UploadErrorCode = (typeof uploadErrorCodes)[number];

/** The codes a WebSocket `error` frame may carry. */
export type ErrorCode = Exclude<AnyErrorCode, UploadErrorCode>;

/** Every code a WebSocket `error` frame may carry, in documentation order. */
export const errorCodes = (Object.keys(errorStatus) as AnyErrorCode[]).filter(
  (code): code is ErrorCode => !(uploadErrorCodes as readonly string[]).includes(code),
);

/** An error meant for the client: its code and message are sent as they are. */
export class ChatError extends Error {
  override name = 'ChatError';
  constructor(
    readonly code: AnyErrorCode,
    message: string,
    /** For `rate_limited` (and `unavailable` when known): how long to wait before trying again, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** The HTTP status this error is answered with over HTTP. */
  get status(): number {
    return errorStatus[this.code];
  }
}

/** Shorthand constructors, so handlers read as sentences. */
export const fail = {
  invalid: (message: string) => new ChatError('invalid_data', message),
  notFound: (message: string) => new ChatError('not_found', message),
  forbidden: (message: string) => new ChatError('forbidden', message),
  notJoined: (room: string) => new ChatError('not_joined', `join room ${room} first`),
  unavailable: (message: string) => new ChatError('unavailable', message),
  /** Past a limit: `message` says which, and the client may try again after `retryAfterMs`. */
  rateLimited: (message: string, retryAfterMs: number) => new ChatError('rate_limited', message, Math.max(1, Math.ceil(retryAfterMs))),
  banned: (until: number) => new ChatError('banned', `you were kicked from this room; try again after ${new Date(until).toISOString()}`),
  tooLarge: (maxBytes: number) =>
    new ChatError('too_large', `A GIF may be at most ${Math.floor(maxBytes / 1024 / 1024) || maxBytes} ${maxBytes >= 1024 * 1024 ? 'MiB' : 'bytes'}.`),
  notGif: () => new ChatError('not_gif', 'Only GIF images can be posted.'),
  noFile: () => new ChatError('no_file', 'Send one file in the field "gif".'),
  tooSlow: (idle: boolean) =>
    new ChatError('too_slow', idle ? 'The upload stalled (no data arrived for too long), so it was stopped.' : 'The upload took too long, so it was stopped.'),
  storageFull: () => new ChatError('storage_full', 'The server has no room left for new messages and GIFs; reading still works.'),
};

/**
 * Turns anything thrown into what may be sent: a ChatError passes through;
 * anything else becomes `internal` with a fixed message, and `unexpected` is true
 * so the caller logs it (once) instead of sending it.
 */
export function toWireError(err: unknown): { code: AnyErrorCode; message: string; retryAfterMs?: number; unexpected: boolean } {
  if (err instanceof ChatError) {
    return err.retryAfterMs === undefined
      ? { code: err.code, message: err.message, unexpected: false }
      : { code: err.code, message: err.message, retryAfterMs: err.retryAfterMs, unexpected: false };
  }
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
