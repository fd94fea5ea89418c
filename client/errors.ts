/**
 * What a refused request means, in plain words, chosen by the error's code alone: the
 * server's messages are for people and may change, so the client never matches them.
 * Pure (no DOM), so jest tests it (test/client).
 */
import type { ErrorCode, UploadErrorCode } from './protocol.js';
import type { Retry } from './room-state.js';

/** Any code a request may fail with: the server's, or `offline` when the socket dropped. */
export type ClientErrorCode = ErrorCode | UploadErrorCode | 'offline';

/** What the person was doing, for the words that depend on it. */
export type Action = 'join' | 'message' | 'whisper' | 'history' | 'kick' | 'transfer' | 'delete' | 'upload' | 'register' | 'mute';

/**
 * How to go on after sending a chat message was refused with `code`: `rejoin` (offline:
 * sent again after the reconnect and join), `backoff` (nothing changed on the server: sent
 * again after a short wait; `not_joined` also rejoins), or false (refused for good: shown
 * as failed, with a retry button).
 */
export function retryFor(code: string): Retry {
  if (code === 'offline') return 'rejoin';
  if (code === 'unavailable' || code === 'rate_limited' || code === 'not_joined') return 'backoff';
  return false;
}

/** The words for each code when no action says better. */
const general: Record<ClientErrorCode, string> = {
  offline: 'You are offline. It will be sent when the connection is back.',
  bad_json: 'The page and the server do not understand each other. Reload the page.',
  bad_envelope: 'The page and the server do not understand each other. Reload the page.',
  unknown_event: 'The server does not know that request. Reload the page to get the current version.',
  invalid_data: 'The server did not accept that.',
  not_found: 'That no longer exists.',
  forbidden: 'You are not allowed to do that.',
  banned: 'You were removed from this room by its owner. You can come back later.',
  room_full: 'This room is full. Try again later.',
  name_taken: 'Someone online already has that name. Pick another.',
  not_joined: 'You are not in this room right now. Rejoining…',
  rate_limited: 'You are sending too fast. Trying again in a moment.',
  unavailable: 'The server is having trouble right now. Nothing was changed; trying again shortly.',
  internal: 'Something went wrong on the server.',
  storage_full: 'The server is out of space, so nothing new can be posted right now. You can still read.',
  too_large: 'That GIF is too large.',
  not_gif: 'That file is not a GIF.',
  no_file: 'Choose a GIF to post.',
  too_slow: 'The upload was too slow and was stopped. Check your connection and try again.',
};

const byAction: Partial<Record<Action, Partial<Record<ClientErrorCode, string>>>> = {
  join: {
    not_found: 'This room was deleted.',
    forbidden: 'This room needs its password. Reload the page to enter it.',
    invalid_data: 'There is no such room.',
    unavailable: 'The server is having trouble right now. Trying again shortly.',
    internal: 'Something went wrong on the server. Trying again shortly.',
  },
  message: {
    invalid_data: 'The server did not accept this message (too long?).',
    not_found: 'This room no longer exists.',
    storage_full: 'The server is out of space, so this message was not sent. Try again later.',
  },
  whisper: {
    not_found: 'They are no longer online.',
    invalid_data: 'The server did not accept this whisper (too long?).',
    offline: 'You are offline. Try again when the connection is back.',
    unavailable: 'The server is having trouble right now. Try again in a moment.',
    rate_limited: 'You are sending too fast. Try again in a moment.',
  },
  history: {
    offline: 'You are offline. Try again when the connection is back.',
    unavailable: 'The server is having trouble right now. Try again in a moment.',
    rate_limited: 'Too many requests. Try again in a moment.',
  },
  kick: {
    forbidden: 'Only the room’s owner can remove people.',
    not_found: 'They are no longer in this room.',
    invalid_data: 'You cannot remove yourself.',
    offline: 'You are offline. Try again when the connection is back.',
    unavailable: 'The server is having trouble right now. Try again in a moment.',
  },
  transfer: {
    forbidden: 'Only the room’s owner can hand the room over.',
    not_found: 'They are no longer in this room.',
    offline: 'You are offline. Try again when the connection is back.',
    unavailable: 'The server is having trouble right now. Try again in a moment.',
  },
  delete: {
    forbidden: 'Only the room’s owner can delete it.',
    not_found: 'This room was already deleted.',
    offline: 'You are offline. Try again when the connection is back.',
    unavailable: 'The server is having trouble right now. Try again in a moment.',
  },
  upload: {
    forbidden: 'Join the room before posting a GIF.',
    not_found: 'This room no longer exists.',
    offline: 'Upload failed: the server could not be reached.',
    unavailable: 'The server is having trouble right now. Try again in a moment.',
    rate_limited: 'Too many uploads: wait for the ones in progress, or try again later.',
    storage_full: 'The server is out of space for new GIFs. You can still read and post later.',
  },
  mute: {
    invalid_data: 'You have muted as many people as you can. Unmute someone first.',
    offline: 'You are offline. Try again when the connection is back.',
    unavailable: 'The server is having trouble right now. Try again in a moment.',
  },
  register: {
    invalid_data: 'That name cannot be used. Use 1 to 32 characters.',
    offline: 'You are offline. Try again when the connection is back.',
    unavailable: 'The server is having trouble right now. Try again in a moment.',
    rate_limited: 'Too many requests. Try again in a moment.',
  },
};

/** The plain words for a refusal of `action` with `code` (an unknown code gets general words). */
export function plainWords(code: string, action?: Action): string {
  return (action && own(byAction[action], code)) ?? own(general, code) ?? 'Something went wrong. Try again.';
}

/**
 * When to try again, in plain words, from a refusal's `retryAfterMs` (a day's upload quota
 * waits hours; a busy moment seconds): "You can try again in about 3 hours."
 */
export function retryWords(retryAfterMs: number): string {
  if (!Number.isFinite(retryAfterMs) || retryAfterMs <= 0) return '';
  const seconds = Math.ceil(retryAfterMs / 1000);
  if (seconds < 60) return `You can try again in ${seconds} second${seconds === 1 ? '' : 's'}.`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `You can try again in about ${minutes} minute${minutes === 1 ? '' : 's'}.`;
  const hours = Math.round(minutes / 60);
  return `You can try again in about ${hours} hours.`;
}

/** `table[key]` when it is the table's own entry (codes come off the wire: no `__proto__`). */
function own(table: Partial<Record<string, string>> | undefined, key: string): string | undefined {
  return table && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}
