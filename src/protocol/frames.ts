import { AnyErrorCode } from './errors';
import { Entry } from './types';

/**
 * Builds a complete, unmasked WebSocket text frame (RFC 6455 section 5.2) around a
 * JSON string, in one buffer. A push is framed once and the same bytes are written
 * to every recipient, so fan-out costs no per-recipient encoding or framing.
 */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + text opcode
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/** The payload of a frame made by textFrame (for tests and tools). */
export function framePayload(frame: Buffer): string {
  const marker = frame[1] & 0x7f;
  const header = marker < 126 ? 2 : marker === 126 ? 4 : 10;
  return frame.subarray(header).toString('utf8');
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

/**
 * Encodes an error reply as a WebSocket frame; `id` is omitted when the request had none,
 * `retryAfterMs` when there is no time to wait for.
 */
export function encodeError(code: AnyErrorCode, message: string, id?: number, retryAfterMs?: number): Buffer {
  const data = retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs };
  return textFrame(JSON.stringify(id === undefined ? { event: 'error', data } : { event: 'error', id, data }));
}
