/** What the hub hands a connection: a frame encoded once, plus what the connection needs to route it. */
export interface Push {
  /** The push as complete WebSocket frames (usually one), written as they are to every recipient. */
  frame: Buffer;
  /** Room seq of the entry, when the frame is a room entry (used to resume without gaps); the last one's when there are `parts`. */
  seq?: number;
  /** When the frame holds several entries (a presence batch): each one's seq and where its frame starts, in seq order. */
  parts?: readonly { seq: number; offset: number }[];
  /** A user whose sockets must not receive it (typing goes to the others only). */
  exceptUser?: string;
  /** The user it comes from, when a mute drops it (typing): sockets whose user muted them skip it. */
  from?: string;
}

/**
 * What of `push` a socket still needs when it already has every entry up to seq
 * `floor`: all of it, the tail of a batch, or null.
 */
export function framesAfter(push: Push, floor: number): Buffer | null {
  if (push.seq === undefined || push.seq > floor) {
    const first = push.parts?.find((part) => part.seq > floor);
    return first && first.offset > 0 ? push.frame.subarray(first.offset) : push.frame;
  }
  return null;
}
