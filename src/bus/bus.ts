/** What travels on the bus: a frame encoded once, plus what the receiver needs to route it. */
export interface BusMessage {
  /** The push as complete WebSocket frames (usually one), written as they are to every recipient. */
  frame: Buffer;
  /** Room seq of the entry, when the frame is a room entry (used to resume without gaps); the last one's when there are `parts`. */
  seq?: number;
  /** When the frame holds several entries (a presence batch): each one's seq and where its frame starts, in seq order. */
  parts?: readonly { seq: number; offset: number }[];
  /** A user whose sockets must not receive it (typing goes to the others only). */
  exceptUser?: string;
}

/**
 * What of `message` a socket still needs when it already has every entry up to seq
 * `floor`: all of it, the tail of a batch, or null.
 */
export function framesAfter(message: BusMessage, floor: number): Buffer | null {
  if (message.seq === undefined || message.seq > floor) {
    const first = message.parts?.find((part) => part.seq > floor);
    return first && first.offset > 0 ? message.frame.subarray(first.offset) : message.frame;
  }
  return null;
}

/** Called with every message published to a topic it subscribed to. */
export type BusHandler = (message: BusMessage) => void;

/**
 * Fan-out between the handlers and the sockets. Topics are strings like
 * `room:<id>`, `user:<id>` and `lobby`. Messages on one topic arrive in publish
 * order. The in-process default is memory-bus; a networked one can replace it
 * without touching the handlers.
 */
export interface Bus {
  /** Delivers the message to every subscriber of the topic. */
  publish(topic: string, message: BusMessage): void;
  /** Starts delivery to `handler`; the returned function stops it. */
  subscribe(topic: string, handler: BusHandler): () => void;
  /** Stops all delivery. */
  close(): Promise<void>;
}
