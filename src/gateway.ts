import { IncomingMessage, Server } from 'node:http';
import { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { Chat } from './chat';
import { Config } from './config';
import { Connection } from './connection';
import type { Dispatcher } from './dispatcher';
import { Logger } from './logger';
import { originAllowed } from './origin';
import { encodePush, Limits, MEMBERS_MAX, MEMBERS_MIN, NAME_MAX, PASSWORD_MAX, TEXT_MAX, TITLE_MAX, UserInfo } from './protocol';
import type { SessionIdentity } from './session-identity';

/** Everything the WebSocket side needs. */
export interface GatewayDeps {
  config: Config;
  chat: Chat;
  identity: SessionIdentity;
  dispatcher: Dispatcher;
  logger: Logger;
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroy();
}

/**
 * The WebSocket side of the server, sharing the HTTP server's port: checks the
 * origin, resolves identity, greets with `welcome`, feeds frames to the dispatcher,
 * pings every HEARTBEAT_MS and terminates sockets that missed a round.
 */
export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly limits: Limits;
  private accepting = true;
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head);

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
    server.on('upgrade', this.onUpgrade);
    this.heartbeat = setInterval(() => this.beat(), config.heartbeatMs);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const onError = (err: Error) => this.deps.logger.warn(`upgrade socket error: ${err.message}`);
    socket.on('error', onError);
    if (!this.accepting) return refuse(socket, 503, 'Service Unavailable');
    if (!originAllowed(req, this.deps.config.allowedOrigins, this.deps.config.trustProxy)) return refuse(socket, 403, 'Forbidden');
    this.deps.identity.userFor(req).then(
      ({ user, sessionId }) => {
        if (!this.accepting) return refuse(socket, 503, 'Service Unavailable');
        if (socket.destroyed) return;
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          socket.off('error', onError);
          this.accept(ws, socket, user, sessionId);
        });
      },
      (err) => {
        this.deps.logger.error('resolving a session failed', err);
        refuse(socket, 500, 'Internal Server Error');
      },
    );
  }

  private accept(ws: WebSocket, socket: Duplex, user: UserInfo, sessionId: string | undefined): void {
    const { chat, dispatcher, logger } = this.deps;
    const conn: Connection = chat.connect(ws, socket, user, sessionId);
    ws.on('error', (err) => logger.warn(`socket error (${conn.user.info.id}): ${err.message}`));
    ws.on('message', (data, isBinary) => dispatcher.onFrame(conn, data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.once('close', () => {
      conn.backlog.length = 0;
      chat.disconnect(conn);
    });
    conn.send(encodePush('welcome', { user: conn.user.info, heartbeatMs: this.deps.config.heartbeatMs, limits: this.limits }));
  }

  private beat(): void {
    for (const conn of this.deps.chat.connections) {
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
    const chat = this.deps.chat;
    const open = [...chat.connections];
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
