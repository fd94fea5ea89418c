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
