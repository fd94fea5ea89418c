import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { AnyErrorCode, encodeAck, encodeError, UserInfo } from '../protocol';
import type { SocketRef } from '../presence/presence';
import { Flushable, Flusher } from './flusher';
import { framesAfter, Push } from './push';
import { Bucket, TokenBucket } from './token-bucket';

/** The user a connection belongs to, as this process knows them (shared by the user's sockets here). */
export interface ConnectionUser {
  info: UserInfo;
  /** Ids of the users this user muted, or null when none (the common case costs one check). */
  muted?: ReadonlySet<string> | null;
}

/** Counters shared by every connection, read by /metrics. */
export interface TrafficStats {
  framesIn: number;
  framesOut: number;
  slowConsumers: number;
}

/** Settings every connection needs: one object shared by all of them. */
export interface ConnectionOptions {
  outboxLimit: number;
  rateLimit: TokenBucket;
  stats: TrafficStats;
  flusher: Flusher;
}

/**
 * How a socket receives one room's entries:
 * - live: sent as they are published;
 * - pending: a join is reading history; pushes wait in `buffer` and go out after the ack,
 *   minus those the history already held (no gap, no duplicate);
 * - behind: the join hit the resume cap (`more: true`); pushes are dropped until the
 *   client joins again with a newer `since`, which reads them from history.
 */
interface RoomFeed {
  room: string;
  mode: 'live' | 'pending' | 'behind';
  /** Pushes held while pending; null otherwise. */
  buffer: Push[] | null;
  bufferedBytes: number;
  /** The highest seq this socket has of the room (history or pushes): nothing at or below it is sent again. */
  floor: number;
}

/**
 * One WebSocket and what the server tracks for it. Sends only while the socket is
 * OPEN; what is sent while one callback and its promise continuations run leaves in
 * one write right after them (see Flusher).
 *
 * Unsent bytes are of two kinds, bounded differently:
 * - pushes (what the server sends unasked): a socket whose unsent pushes pass the
 *   outbox limit (OUTBOX_LIMIT) does not read them fast enough and is cut off (a slow
 *   consumer; it recovers with join + since);
 * - replies (acks and errors: what the socket asked for): never cut a socket off. Each is
 *   bounded by MAX_REPLY_BYTES (below OUTBOX_LIMIT); while a socket's unsent replies pass
 *   the outbox limit, the server stops reading its frames (its requests wait in the
 *   kernel) until its send buffer drains. A requester is so made to wait for what it
 *   asked, and what it may leave unread stays bounded: about OUTBOX_LIMIT of pushes plus
 *   OUTBOX_LIMIT and the replies of requests already running.
 * Replies are told apart by where they lie in what was written: unsent bytes are the tail
 * of the written stream, and a write's reply bytes are counted unsent while that much of
 * the write is (the requester's favour when a write mixes both).
 */
export class Connection implements Flushable, Bucket {
  /** Set by each inbound frame or pong; cleared by each heartbeat round. */
  alive = true;
  /** Which slice of the heartbeat round visits this socket (see Gateway). */
  slot = 0;
  /** Frames refused by the rate limit since the last accepted one. */
  strikes = 0;
  /** This socket's rate-limit bucket (see TokenBucket), kept inline: idle sockets are the bulk. */
  tokens = 0;
  last = 0;
  /** Rooms this socket joined, with how it receives each: a short array, as a socket is in few rooms. */
  private feeds: RoomFeed[] | null = null;
  /** True while a request of this socket holds its turn (frames are handled in order). */
  busy = false;
  /** Frames that arrived while busy, in arrival order (bounded by the rate limit); null when none. */
  backlog: { data: Buffer; isBinary: boolean }[] | null = null;
  /** Frames sent this turn, written together by flush(); null between turns (idle sockets hold nothing). */
  private outbox: Buffer[] | null = null;
  private outboxBytes = 0;
  /** Of outboxBytes, those of replies. */
  private outboxReplyBytes = 0;
  /** Bytes written to the socket so far. */
  private written = 0;
  /** Writes that held replies and may be partly unsent, oldest first: where each ended in `written`, and its reply bytes. */
  private replyWrites: { end: number; bytes: number }[] | null = null;
  /** True while frames are not read because unsent replies passed the outbox limit. */
  private held = false;
  private flushQueued = false;

  constructor(
    readonly ws: WebSocket,
    /** The raw socket under `ws`: frames are written here already framed. */
    private readonly socket: Duplex,
    readonly user: ConnectionUser,
    /** Where presence knows this socket: this process's node id and the socket's id in it. */
    readonly ref: SocketRef,
    readonly sessionId: string | undefined,
    private readonly options: ConnectionOptions,
    /** The client's address (behind TRUST_PROXY, the forwarded one): what per-address limits and bans count. */
    readonly address = 'unknown',
  ) {
    options.rateLimit.fill(this, Date.now());
  }

  private feed(room: string): RoomFeed | undefined {
    if (this.feeds) for (const feed of this.feeds) if (feed.room === room) return feed;
    return undefined;
  }

  /** True when this socket joined `room`. */
  inRoom(room: string): boolean {
    return this.feed(room) !== undefined;
  }

  /** The rooms this socket joined. */
  roomIds(): string[] {
    return this.feeds ? this.feeds.map((f) => f.room) : [];
  }

  /** Stops receiving `room`. */
  dropFeed(room: string): void {
    if (!this.feeds) return;
    const rest = this.feeds.filter((f) => f.room !== room);
    this.feeds = rest.length > 0 ? rest : null;
  }

  /** Queues one complete frame (from encodePush/encodeEntry/encodeAck/encodeError) if the socket is open: a push, unless `reply`. */
  send(frame: Buffer, reply = false): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.options.stats.framesOut++;
    if (reply) this.outboxReplyBytes += frame.length;
    if (this.outbox) this.outbox.push(frame);
    else this.outbox = [frame];
    this.outboxBytes += frame.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.options.flusher.add(this);
    }
  }

  /**
   * Writes what this turn queued in one write. What the kernel did not take stays in
   * the socket's buffer (bufferedAmount): past OUTBOX_LIMIT of pushes the reader is too
   * slow; past OUTBOX_LIMIT of replies, its requests wait (see the class comment).
   */
  flush(): void {
    this.flushQueued = false;
    const frames = this.outbox;
    if (!frames) return;
    const bytes = this.outboxBytes;
    const replyBytes = this.outboxReplyBytes;
    this.outbox = null;
    this.outboxBytes = 0;
    this.outboxReplyBytes = 0;
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.socket.write(frames.length === 1 ? frames[0] : this.options.flusher.join(frames, bytes));
    this.written += bytes;
    if (replyBytes > 0) (this.replyWrites ??= []).push({ end: this.written, bytes: replyBytes });
    const unsent = this.ws.bufferedAmount;
    if (unsent === 0) {
      this.replyWrites = null;
      return;
    }
    const replies = this.unsentReplies(unsent);
    if (unsent <= this.options.outboxLimit) return;
    if (unsent - replies > this.options.outboxLimit) this.cutOff();
    else if (replies > this.options.outboxLimit) this.hold();
  }

  /** How many of the `unsent` bytes (the tail of what was written) are replies. */
  private unsentReplies(unsent: number): number {
    const sent = this.written - unsent;
    const writes = this.replyWrites;
    if (!writes) return 0;
    let done = 0;
    while (done < writes.length && writes[done].end <= sent) done++;
    if (done > 0) writes.splice(0, done);
    let replies = 0;
    for (const write of writes) replies += Math.min(write.bytes, write.end - sent);
    return replies;
  }

  /** Stops reading this socket's frames until its send buffer drains. */
  private hold(): void {
    if (this.held) return;
    this.held = true;
    this.ws.pause();
    this.socket.once('drain', () => {
      this.held = false;
      this.replyWrites = null;
      if (this.ws.readyState === WebSocket.OPEN) this.ws.resume();
    });
  }

  /** A reader this slow would hold an unbounded queue: terminate; it recovers with join + since. */
  private cutOff(): void {
    this.options.stats.slowConsumers++;
    this.outbox = null;
    this.outboxBytes = 0;
    this.outboxReplyBytes = 0;
    this.replyWrites = null;
    this.ws.terminate();
  }

  /** Answers a request: an ack when it carried an id, nothing otherwise. Acks are written ahead of this round's pushes. */
  reply(id: number | undefined, data: unknown): void {
    if (id === undefined) return;
    this.send(encodeAck(id, data), true);
    if (this.outbox) this.options.flusher.addFirst(this);
  }

  /** Sends an error, tied to the request's id when it had one. */
  replyError(code: AnyErrorCode, message: string, id?: number, retryAfterMs?: number): void {
    this.send(encodeError(code, message, id, retryAfterMs), true);
  }

  /** Closes the socket with a close code and a short reason, after what is queued. */
  close(code: number, reason: string): void {
    this.flush();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  /** Starts a room feed in pending mode (see RoomFeed). */
  beginFeed(room: string): void {
    const feed = this.feed(room);
    if (feed) feed.mode = 'pending';
    else {
      const fresh: RoomFeed = { room, mode: 'pending', buffer: null, bufferedBytes: 0, floor: 0 };
      this.feeds = this.feeds ? [...this.feeds, fresh] : [fresh];
    }
  }

  /**
   * Ends a pending feed: sends what was buffered with seq above `floor` (and every
   * non-entry push), then goes live, never sending a seq at or below the floor again;
   * or, when `behind`, drops it and waits for the next join.
   */
  settleFeed(room: string, floor: number, behind: boolean): void {
    const feed = this.feed(room);
    if (!feed) return;
    const buffer = feed.buffer ?? [];
    feed.buffer = null;
    feed.bufferedBytes = 0;
    if (behind) {
      feed.mode = 'behind';
      return;
    }
    feed.mode = 'live';
    feed.floor = floor;
    for (const message of buffer) this.sendAfterFloor(feed, message);
  }

  /** Sends what of a room push this socket does not have yet (a presence batch may be partly in its history). */
  private sendAfterFloor(feed: RoomFeed, message: Push): void {
    const seq = message.seq;
    if (seq === undefined) return this.send(message.frame);
    if (seq <= feed.floor) return;
    // The common case, one entry above the floor, stays a plain send (the fan-out hot path).
    const frame = message.parts === undefined ? message.frame : framesAfter(message, feed.floor)!;
    feed.floor = seq;
    this.send(frame);
  }

  /** Delivers a room push according to the feed's mode. */
  deliver(room: string, message: Push): void {
    const feed = this.feed(room);
    if (!feed || message.exceptUser === this.user.info.id) return;
    if (message.from !== undefined && this.user.muted?.has(message.from)) return;
    if (feed.mode === 'live') {
      this.sendAfterFloor(feed, message);
    } else if (feed.mode === 'pending') {
      (feed.buffer ??= []).push(message);
      feed.bufferedBytes += message.frame.length;
      if (feed.bufferedBytes > this.options.outboxLimit) this.cutOff();
    }
  }

  /** Counts a frame against the rate limit; false when over it. */
  admit(now: number): boolean {
    if (this.options.rateLimit.take(this, now)) {
      this.strikes = 0;
      return true;
    }
    this.strikes++;
    return false;
  }
}

