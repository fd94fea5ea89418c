import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import cookieParser from 'cookie-parser';
import express, { NextFunction, Request, Response } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import morgan from 'morgan';
import nunjucks from 'nunjucks';
import { Histogram, Registry } from 'prom-client';
import type { Chat } from '../chat/chat';
import type { Hub } from '../realtime/hub';
import { Config } from '../config';
import { Logger } from '../logger';
import { originAllowed, ownOrigin } from './origin';
import { LATENCY_BUCKETS } from './metrics';
import { ChatError } from '../protocol/errors';
import { UserInfo } from '../protocol';
import { createGifRoutes } from './gifs';
import { createHealthRoute, HealthDeps } from './health';
import { createPageRoutes } from './pages';
import { SESSION_COOKIE } from '../sessions/session-identity';
import { SessionStore } from '../sessions/session-store';
import { GifStore } from '../store/gif-store';
import type { Limiter } from '../limits/limiter';

declare module 'express-session' {
  interface SessionData {
    user: UserInfo;
    /** Locked rooms whose password this session gave. */
    rooms: string[];
    /** Set when the socket side changed the session's rights (a rename, a grant): the next page gives it a new id. */
    rotate: boolean;
  }
}

/** What the HTTP side is built from. */
export interface HttpDeps {
  config: Config;
  chat: Chat;
  hub: Hub;
  gifs: GifStore;
  health: HealthDeps;
  sessions: SessionStore;
  metrics: Registry;
  logger: Logger;
  /** Counts what clients do, for the abuse limits. */
  limiter: Limiter;
  /** True when the storage budget (STORAGE_MAX_BYTES) is used up: a cached figure. */
  storageFull?: () => boolean;
  /** Folder holding views/ and public/. */
  root: string;
}

/** The WebSocket origin of the server's own pages (ws:// or wss://), for connect-src; undefined when not known. */
function ownSocketOrigin(req: IncomingMessage, config: Config): string | undefined {
  const own = ownOrigin(req, config);
  return own?.replace(/^http/, 'ws');
}

/** True when the TCP peer is this machine (never X-Forwarded-For). */
function loopbackPeer(req: Request): boolean {
  const peer = req.socket.remoteAddress ?? '';
  return peer === '::1' || /^(::ffff:)?127\./.test(peer);
}

/**
 * Who may read /metrics: with METRICS_TOKEN, a request with `Authorization: Bearer <token>`
 * (compared in constant time); without, a loopback peer whose request did not come through
 * a proxy (no X-Forwarded-For or Forwarded header: a proxy on this machine is loopback too).
 */
function metricsAccess(req: Request, token: string | undefined): 'ok' | 'unauthorized' | 'hidden' {
  if (token !== undefined) {
    const given = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const digest = (text: string) => createHash('sha256').update(text).digest();
    return timingSafeEqual(digest(given), digest(token)) ? 'ok' : 'unauthorized';
  }
  const proxied = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
  return loopbackPeer(req) && !proxied ? 'ok' : 'hidden';
}

/** Guest sessions last this long without a visit. */
const SESSION_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/** Builds the Express app: pages, uploads, health, metrics. Listening is the caller's job. */
export function createHttpApp(deps: HttpDeps): express.Express {
  const { config, chat, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Production behaviour (no stacks, cached views) unless NODE_ENV=development says otherwise.
  app.set('env', config.development ? 'development' : 'production');
  if (config.trustProxy) app.set('trust proxy', 1);

  const views = nunjucks.configure(path.join(deps.root, 'views'), { autoescape: true, noCache: !config.production });
  views.addFilter('clock', (ts: number) => new Date(ts).toISOString().slice(11, 16));
  views.addFilter('iso', (ts: number) => new Date(ts).toISOString());
  views.express(app);
  app.set('view engine', 'njk');

  // Every request's time by method, route (the pattern, never the raw path) and status.
  const httpTime = new Histogram({
    name: 'gifchat_http_request_duration_seconds',
    help: 'HTTP requests by method, route and status: time to the last byte written',
    labelNames: ['method', 'route', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: [deps.metrics],
  });
  app.use((req, res, next) => {
    const started = performance.now();
    res.once('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : res.statusCode === 404 ? 'unmatched' : res.locals.static ? 'static' : 'other';
      httpTime.observe({ method: req.method, route, status: String(res.statusCode) }, (performance.now() - started) / 1000);
    });
    next();
  });
  if (config.accessLog) {
    // One line per request; colors only on a terminal; health probes and scrapes are not logged.
    app.use(
      morgan(logger.tty && !config.production ? 'dev' : 'combined', {
        skip: (req) => req.url === '/healthz' || req.url === '/metrics',
        stream: { write: (line) => logger.info(line.trimEnd()) },
      }),
    );
  }
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          // The page's own WebSocket, named outright: some browsers do not count ws: as 'self'.
          'connect-src': ["'self'", (req) => ownSocketOrigin(req as IncomingMessage, config) ?? "'self'"],
          'img-src': ["'self'", 'data:', 'blob:'],
          'style-src': ["'self'"],
          'font-src': ["'self'"],
          // User colors come from the server's own palette; scripts stay strictly external.
          'style-src-attr': ["'unsafe-inline'"],
          'upgrade-insecure-requests': config.trustProxy ? [] : null,
        },
      },
      strictTransportSecurity: config.trustProxy,
      // no-referrer would make browsers send `Origin: null` on form posts, defeating the origin check.
      referrerPolicy: { policy: 'same-origin' },
    }),
  );

  app.use(createHealthRoute(deps.health));
  app.get('/metrics', async (req, res, next) => {
    const access = metricsAccess(req, config.metricsToken);
    if (access === 'unauthorized') return res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').type('text/plain').send('A bearer token is needed.\n');
    if (access === 'hidden') return next(); // the 404 page, as for any unknown address
    try {
      res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
    } catch (err) {
      next(err);
    }
  });

  app.use(
    express.static(path.join(deps.root, 'public'), {
      maxAge: config.production ? '1h' : 0,
      setHeaders: (res) => {
        res.locals.static = true;
      },
    }),
  );
  app.use(cookieParser(config.cookieSecret));
  app.use(
    session({
      name: SESSION_COOKIE,
      secret: config.cookieSecret,
      store: deps.sessions,
      resave: false,
      saveUninitialized: false,
      proxy: config.trustProxy,
      cookie: { httpOnly: true, sameSite: 'lax', secure: config.trustProxy ? 'auto' : false, maxAge: SESSION_MAX_AGE_MS },
    }),
  );
  // Cross-site posting: the cookie is SameSite=Lax, and a state-changing request from a
  // page must come from our own origin too.
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || originAllowed(req, config)) return next();
    res.status(403).render('error', { status: 403, message: 'This form was sent from another site, so it was refused.' });
  });

  app.use(createPageRoutes(chat, { trustProxy: config.trustProxy, limiter: deps.limiter, sessionsPerHour: config.sessionsPerHour }));
  app.use(
    createGifRoutes(chat, deps.gifs, {
      maxBytes: config.maxUploadBytes,
      tempDir: path.join(config.dataDir, 'tmp'),
      limiter: deps.limiter,
      perUser: config.uploadsPerUser,
      atOnce: config.uploadsAtOnce,
      idleMs: config.uploadIdleMs,
      timeoutMs: config.uploadTimeoutMs,
      perDay: config.uploadsPerDay,
      bytesPerDay: config.uploadBytesPerDay,
      storageFull: deps.storageFull,
    }),
  );

  app.use((_req, res) => {
    res.status(404).render('error', { status: 404, message: 'There is nothing at this address.' });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // A dependency that is down (storage, sessions): its own status and a message anyone may read.
    if (err instanceof ChatError) {
      if (err.retryAfterMs !== undefined) res.set('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
      else if (err.code === 'unavailable') res.set('Retry-After', '5');
      const sentence = `${err.message[0].toUpperCase()}${err.message.slice(1)}.`;
      // A refusal that says what to do (rate limits say when; quotas say what) is shown as it is.
      const hint = err.code === 'unavailable' && err.retryAfterMs === undefined ? ' Try again in a moment.' : '';
      return res.status(err.status).render('error', { status: err.status, message: `${sentence}${hint}` });
    }
    const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 500;
    if (status >= 500) logger.error('request failed', err);
    res.status(status).render('error', {
      status,
      message: status >= 500 ? 'Something went wrong on our side.' : 'That request could not be served.',
      detail: config.development ? String((err as Error)?.stack ?? err) : undefined,
    });
  });
  return app;
}
