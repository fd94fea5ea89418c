import { IncomingMessage, Server } from 'node:http';
import { Duplex } from 'node:stream';
import WebSocket, { RawData, WebSocketServer } from 'ws';
import type { Chat } from '../chat/chat';
import type { Hub } from './hub';
import { Config } from '../config';
import { Connection } from './connection';
import type { Dispatcher } from './dispatcher';
import { Logger } from '../logger';
import { originAllowed } from '../web/origin';
import { encodePush, Limits, MEMBERS_MAX, MEMBERS_MIN, NAME_MAX, PASSWORD_MAX, TEXT_MAX, TITLE_MAX, UserInfo } from '../protocol';
import { toWireError } from '../protocol/errors';
import type { SessionIdentity } from '../sessions/session-identity';
import type { Lease, Limiter } from '../limits/limiter';

/** Everything the WebSocket side needs. */
export interface GatewayDeps {
  config: Config;
  chat: Chat;
  hub: Hub;
  identity: SessionIdentity;
  dispatcher: Dispatcher;
  logger: Logger;
  /** Counts what clients do, for the abuse limits. */
  limiter: Limiter;
}

/** The client's address: the socket's peer, or behind TRUST_PROXY the first X-Forwarded-For hop. */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first || req.socket.remoteAddress || 'unknown';
}

function refuse(socket: Duplex, status: number, reason: string, headers = ''): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${headers}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroy();
}

/** Retry-After (seconds) of an upgrade refused for too many open sockets: a place frees when one of them closes. */
export const SOCKETS_RETRY_AFTER_S = 10;

/** A refusal for too many sockets is logged at most once per address per this long. */
const REFUSAL_LOG_MS = 60_000;
/** Addresses remembered for that (the oldest forgotten first): bounded under a flood from many addresses. */
const REFUSAL_LOG_MAX = 1000;

const CONN = Symbol('connection');
/** A WebSocket carrying its Connection, so listeners can be shared by all sockets. */
type Tagged = WebSocket & { [CONN]: Connection };

/**
 * The heartbeat visits sockets in slices, one slice every HEARTBEAT_TICK_MS, so each
 * socket is still pinged once per HEARTBEAT_MS but the pings of 15,000 sockets are not
 * written in one event-loop turn (that stalled every room's messages for ~100 ms).
 */
export const HEARTBEAT_TICK_MS = 250;

/** The Connection of a socket tagged by accept(). */
const connOf = (ws: WebSocket): Connection => (ws as Tagged)[CONN];

function onPong(this: WebSocket): void {
  connOf(this).alive = true;
}

/**
 * The WebSocket side of the server, sharing the HTTP server's port: checks the
 * origin, resolves identity, greets with `welcome`, feeds frames to the dispatcher,
 * pings every HEARTBEAT_MS and terminates sockets that missed a round.
 */
export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly heartbeat: NodeJS.Timeout;
  /** How many slices one heartbeat round is cut into, and the slice the next tick visits. */
  private readonly slices: number;
  private tick = 0;
  private nextSlot = 0;
  private readonly limits: Limits;
  private accepting = true;
  /** When each address's last refusal for too many sockets was logged (insertion order: oldest first). */
  private readonly refusalsLogged = new Map<string, number>();
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head);
  // Socket listeners, shared by every socket (no closures per socket); `this` is the WebSocket.
  private readonly onSocketError: (this: WebSocket, err: Error) => void;
  private readonly onMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
  private readonly onClose: (this: WebSocket, code: number, reason: Buffer) => void;

  constructor(
    private readonly server: Server,
    private readonly deps: GatewayDeps,
  ) {
    const { config } = deps;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayload, perMessageDeflate: false, clientTracking: false });
    this.limits = {
      maxPayload: config.maxPayload,
      ratePerSec: config.ratePerSec,
      rateBurst: config.rateBurst,
      historyLimit: config.historyLimit,
      resumeLimit: config.resumeLimit,
      nameMax: NAME_MAX,
      titleMax: TITLE_MAX,
      textMax: TEXT_MAX,
      passwordMax: PASSWORD_MAX,
      membersMin: MEMBERS_MIN,
      membersMax: MEMBERS_MAX,
      maxUploadBytes: config.maxUploadBytes,
    };
    const { logger, dispatcher, chat, hub } = deps;
    this.onSocketError = function (err) {
      logger.warn(`socket error (${connOf(this).user.info.id}): ${err.message}`);
    };
    this.onMessage = function (data, isBinary) {
      dispatcher.onFrame(connOf(this), data, isBinary);
    };
    const lifecycle = config.accessLog;
    this.onClose = function (code: number, reason: Buffer) {
      const conn = connOf(this);
      if (lifecycle) logger.info(`socket ${conn.ref.socket} closed: ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''} (user ${conn.user.info.id})`);
      conn.backlog = null;
      hub.remove(conn);
      chat.disconnect(conn.ref).catch((err) => logger.warn(`forgetting socket ${conn.ref.socket} of ${conn.user.info.id} failed: ${(err as Error).message}`));
    };
    server.on('upgrade', this.onUpgrade);
    this.slices = Math.max(1, Math.round(config.heartbeatMs / HEARTBEAT_TICK_MS));
    this.heartbeat = setInterval(() => this.beat(), config.heartbeatMs / this.slices);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const onError = (err: Error) => this.deps.logger.warn(`upgrade socket error: ${err.message}`);
    socket.on('error', onError);
    // 429s are logged by tooMany (once per address per minute), the rest with the access log.
    const refused = (status: number, text: string, why: string, headers = '') => {
      if (this.deps.config.accessLog && status !== 429) this.deps.logger.info(`upgrade refused ${status}: ${why} (from ${clientAddress(req, this.deps.config.trustProxy)}, origin ${req.headers.origin ?? 'none'})`);
      refuse(socket, status, text, headers);
    };
    if (!this.accepting) return refused(503, 'Service Unavailable', 'the server is shutting down');
    if (!originAllowed(req, this.deps.config)) return refused(403, 'Forbidden', 'origin not allowed');
    const address = clientAddress(req, this.deps.config.trustProxy);
    this.deps.identity
      .userFor(req)
      .then(async ({ user, sessionId, muted }) => {
        const leases = await this.holdPlaces(address, sessionId);
        if (typeof leases === 'string') return refused(429, 'Too Many Requests', leases, `Retry-After: ${SOCKETS_RETRY_AFTER_S}\r\n`);
        // The places are held for as long as the TCP socket lives, however it ends (close, error, terminate, shutdown).
        const release = () => leases.forEach((lease) => lease.release());
        if (socket.destroyed) return release();
        socket.once('close', release);
        if (!this.accepting) return refused(503, 'Service Unavailable', 'the server is shutting down');
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          socket.off('error', onError);
          this.accept(ws, socket, user, sessionId, req, muted);
        });
      })
      .catch((err: unknown) => {
        const wire = toWireError(err);
        if (wire.unexpected) this.deps.logger.error('resolving a session failed', err);
        // The session store or the limiter is down: the client retries later.
        if (wire.code === 'unavailable') return refused(503, 'Service Unavailable', wire.message);
        refused(500, 'Internal Server Error', 'resolving the session failed');
      });
  }

  /**
   * Holds one of SOCKETS_PER_IP places of `address` and one of SOCKETS_PER_SESSION places of
   * the session (when there is one), or none of them: returns why when a place is missing
   * (logged at most once per address per minute). Rejects with `unavailable` when the
   * limiter cannot count (the socket is refused).
   */
  private async holdPlaces(address: string, sessionId: string | undefined): Promise<Lease[] | string> {
    const { config } = this.deps;
    const perIp = await this.deps.limiter.acquire(`sockets:ip:${address}`, config.socketsPerIp);
    if (!perIp) return this.tooMany(address, `${config.socketsPerIp} sockets open from this address (SOCKETS_PER_IP)`);
    if (sessionId === undefined) return [perIp];
    let perSession: Lease | undefined;
    try {
      perSession = await this.deps.limiter.acquire(`sockets:session:${sessionId}`, config.socketsPerSession);
    } catch (err) {
      perIp.release();
      throw err;
    }
    if (!perSession) {
      perIp.release();
      return this.tooMany(address, `${config.socketsPerSession} sockets open for this session (SOCKETS_PER_SESSION)`);
    }
    return [perIp, perSession];
  }

  private tooMany(address: string, why: string): string {
    const now = Date.now();
    const last = this.refusalsLogged.get(address);
    if (last === undefined || now - last >= REFUSAL_LOG_MS) {
      this.refusalsLogged.delete(address);
      this.refusalsLogged.set(address, now);
      if (this.refusalsLogged.size > REFUSAL_LOG_MAX) this.refusalsLogged.delete(this.refusalsLogged.keys().next().value!);
      this.deps.logger.warn(`socket refused (429) from ${address}: ${why}; further refusals of this address are not logged for a minute`);
    }
    return why;
  }

  private accept(ws: WebSocket, socket: Duplex, user: UserInfo, sessionId: string | undefined, req: IncomingMessage, muted?: string[]): void {
    const conn: Connection = this.deps.hub.add(ws, socket, user, sessionId, clientAddress(req, this.deps.config.trustProxy), muted);
    if (this.deps.config.accessLog) {
      this.deps.logger.info(`socket ${conn.ref.socket} open: user ${user.id} (${user.name}) from ${clientAddress(req, this.deps.config.trustProxy)}`);
    }
    this.deps.chat.connect(conn.ref, user).catch((err) => this.deps.logger.warn(`registering socket of ${user.id} failed: ${(err as Error).message}`));
    conn.slot = this.nextSlot;
    this.nextSlot = (this.nextSlot + 1) % this.slices;
    (ws as Tagged)[CONN] = conn;
    // Shared listeners: an idle socket costs as little memory as possible.
    ws.on('error', this.onSocketError);
    ws.on('message', this.onMessage);
    ws.on('pong', onPong);
    ws.once('close', this.onClose);
    // The user's mutes as this process knows them (the session's, kept current by `muted` facts).
    const mutes = conn.user.muted ? [...conn.user.muted] : [];
    conn.send(encodePush('welcome', { user: conn.user.info, heartbeatMs: this.deps.config.heartbeatMs, limits: this.limits, muted: mutes }));
  }

  /** Visits one slice: terminates its sockets that missed the last round, pings the rest. */
  private beat(): void {
    const slot = this.tick;
    this.tick = (this.tick + 1) % this.slices;
    for (const conn of this.deps.hub.connections) {
      if (conn.slot !== slot) continue;
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      if (conn.ws.readyState === WebSocket.OPEN) conn.ws.ping();
    }
  }

  /** Refuses new upgrades with 503 from now on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Closes every socket with `code`, waits up to `graceMs` for them to finish the
   * closing handshake (pending writes flush first), then terminates the rest.
   */
  async closeAll(code: number, reason: string, graceMs: number): Promise<void> {
    const open = [...this.deps.hub.connections];
    await new Promise<void>((resolve) => {
      let left = open.length;
      if (left === 0) return resolve();
      const timer = setTimeout(() => {
        for (const conn of open) conn.ws.terminate();
        resolve();
      }, graceMs);
      for (const conn of open) {
        conn.ws.once('close', () => {
          if (--left === 0) {
            clearTimeout(timer);
            resolve();
          }
        });
        conn.close(code, reason);
      }
    });
  }

  /** Stops the heartbeat and detaches from the HTTP server. */
  close(): void {
    this.accepting = false;
    clearInterval(this.heartbeat);
    this.server.off('upgrade', this.onUpgrade);
    this.wss.close();
  }
}
