import { performance } from 'node:perf_hooks';
import { RawData } from 'ws';
import type { Chat } from '../chat/chat';
import type { Hub } from './hub';
import { Connection } from './connection';
import { AnyErrorCode, CloseCode, toWireError } from '../protocol/errors';
import { HandlerTable } from './handlers/handler';
import { Logger } from '../logger';
import { isProblem, parseEnvelope, requestSchemas, RequestEvent } from '../protocol';
import { Schema } from '../protocol/schema';
import type { SessionIdentity } from '../sessions/session-identity';

type Route = { schema: Schema<unknown>; handle: (req: never) => unknown };

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * Turns frames into handler calls: rate limit, envelope, event lookup, data schema,
 * handler, reply. Frames of one socket are handled in arrival order. Whatever a
 * frame holds, only that socket hears about it; the connection stays open.
 */
export class Dispatcher {
  /** Errors sent, by code (for /metrics). */
  readonly errors = new Map<AnyErrorCode, number>();
  /**
   * Told, for each `message` acked, the seconds from its frame's arrival to its ack (the ack
   * goes after the commit, once the entry was handed to this process's sockets). For /metrics.
   */
  onMessageTime: ((seconds: number) => void) | undefined;
  private readonly routes = new Map<string, Route>();
  /** Frames started and not answered yet. */
  private inFlight = 0;
  /** Set by stop(): frames not started yet are refused. */
  private stopping = false;
  private readonly idleWaiters = new Set<() => void>();

  constructor(
    private readonly chat: Chat,
    private readonly hub: Hub,
    private readonly limits: { ratePerSec: number; rateBurst: number },
    private readonly identity: SessionIdentity,
    handlers: HandlerTable,
    private readonly logger: Logger,
  ) {
    for (const event of Object.keys(requestSchemas) as RequestEvent[]) {
      this.routes.set(event, { schema: requestSchemas[event] as Schema<unknown>, handle: handlers[event] as Route['handle'] });
    }
  }

  /** Entry point for every frame a socket receives. */
  onFrame(conn: Connection, raw: RawData, isBinary: boolean): void {
    this.hub.stats.framesIn++;
    conn.alive = true;
    const data = toBuffer(raw);
    if (!conn.admit(Date.now())) {
      if (conn.strikes >= this.limits.rateBurst) {
        conn.close(CloseCode.policyViolation, 'rate limit exceeded');
        return;
      }
      const envelope = isBinary ? undefined : parseEnvelope(data.toString());
      this.fail(conn, 'rate_limited', `slow down: at most ${this.limits.ratePerSec} frames a second`, envelope?.id, Math.ceil(1000 / this.limits.ratePerSec));
      return;
    }
    if (conn.busy) {
      (conn.backlog ??= []).push({ data, isBinary });
      return;
    }
    this.run(conn, data, isBinary);
  }

  /**
   * The first step of a graceful shutdown. From now on a frame that has not started (arriving
   * later, or waiting behind an earlier frame of its socket) is not handled: it is answered
   * `unavailable` (nothing was done; the client sends it again after reconnecting). Resolves
   * once every frame already started has been answered (a `message` after its commit, with
   * its ack handed to its socket), or after `graceMs` (a handler stuck on a dependency that
   * is down); true when all were answered. Never rejects.
   */
  stop(graceMs: number): Promise<boolean> {
    this.stopping = true;
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (all: boolean) => {
        clearTimeout(timer);
        this.idleWaiters.delete(wake);
        resolve(all);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), graceMs);
      this.idleWaiters.add(wake);
    });
  }

  private run(conn: Connection, data: Buffer, isBinary: boolean): void {
    conn.busy = true;
    this.inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      conn.busy = false;
      const next = conn.backlog?.shift();
      if (conn.backlog?.length === 0) conn.backlog = null;
      if (next) this.run(conn, next.data, next.isBinary);
    };
    void this.handle(conn, data, isBinary, release).then(() => {
      release();
      if (--this.inFlight === 0) for (const wake of [...this.idleWaiters]) wake();
    });
  }

  /** Handles one frame; never rejects. */
  private async handle(conn: Connection, data: Buffer, isBinary: boolean, release: () => void): Promise<void> {
    if (isBinary) return this.fail(conn, 'bad_json', 'binary frames are not accepted; send JSON text');
    const arrived = performance.now();
    const envelope = parseEnvelope(data.toString());
    if (isProblem(envelope)) return this.fail(conn, envelope.code, envelope.message, envelope.id);
    const { event, id } = envelope;
    if (this.stopping) return this.fail(conn, 'unavailable', 'the server is shutting down: send it again once reconnected', id);
    const route = this.routes.get(event);
    if (!route) return this.fail(conn, 'unknown_event', `unknown event "${event.slice(0, 64)}"`, id);
    const after: (() => void)[] = [];
    try {
      const payload = route.schema(envelope.data, 'data');
      const result = await route.handle({
        chat: this.chat,
        hub: this.hub,
        identity: this.identity,
        conn,
        data: payload,
        id,
        release,
        afterReply: (fn: () => void) => after.push(fn),
      } as never);
      conn.reply(id, result);
      if (event === 'message') this.onMessageTime?.((performance.now() - arrived) / 1000);
    } catch (err) {
      const wire = toWireError(err);
      if (wire.unexpected) this.logger.error(`handling "${event}" failed`, err);
      this.fail(conn, wire.code, wire.message, id, wire.retryAfterMs);
    }
    for (const fn of after) fn();
  }

  private fail(conn: Connection, code: AnyErrorCode, message: string, id?: number, retryAfterMs?: number): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    conn.replyError(code, message, id, retryAfterMs);
  }
}
