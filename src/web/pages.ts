import express, { NextFunction, Request, Response, Router } from 'express';
import { Chat, roomInfo, waitText } from '../chat/chat';
import type { Limiter } from '../limits/limiter';
import { clientAddress } from '../realtime/gateway';
import { ChatError, errorStatus } from '../protocol/errors';
import { DEFAULT_MAX_MEMBERS, Entry, MEMBERS_MAX, MEMBERS_MIN, PASSWORD_MAX, roomFields, TITLE_MAX } from '../protocol';
import { MAX_GRANTS } from '../sessions/session-identity';
import { isUserInfo, newGuest } from '../chat/identity';
import { UserInfo } from '../protocol';

/** Values of the new-room form as typed, and a message per refused field. */
interface RoomForm {
  values: { title: string; max: string; password: string };
  errors: Partial<Record<'title' | 'max' | 'password', string>>;
}

const text = (value: unknown) => (typeof value === 'string' ? value : '');

/** Checks the new-room form with the same rules as the `create` event, one message per field. */
function readRoomForm(body: Record<string, unknown>): RoomForm & { data?: { title: string; max: number; password?: string } } {
  const values = { title: text(body.title), max: text(body.max).trim(), password: text(body.password) };
  const errors: RoomForm['errors'] = {};
  const check = <T>(field: keyof RoomForm['errors'], fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ChatError)) throw err;
      errors[field] = err.message.replace(/^\w+ /, (w) => w[0].toUpperCase() + w.slice(1));
      return undefined;
    }
  };
  const title = check('title', () => roomFields.title(values.title, 'title'));
  const max = check('max', () => roomFields.max(values.max === '' ? DEFAULT_MAX_MEMBERS : Number(values.max), 'max'));
  const password = check('password', () => roomFields.password(values.password, 'password'));
  if (title === undefined || max === undefined || password === undefined) return { values, errors };
  return { values, errors, data: { title, max, password: password || undefined } };
}

/**
 * The visitor's user, making the session (a guest) when it has none. Only pages that need an
 * identity call this: a session row is written for them, never for a visit that only reads
 * (the lobby), a 404, a probe or a static file.
 */
function sessionUser(req: Request): UserInfo {
  if (!isUserInfo(req.session.user)) req.session.user = newGuest();
  return req.session.user;
}

/**
 * Gives the session a new id, keeping its user and grants, after its rights changed (a room
 * unlocked, a rename): an id someone planted or saw before no longer carries them. The old
 * row is removed; the new cookie goes out with the response.
 */
export function rotateSession(req: Request): Promise<void> {
  const { user, rooms } = req.session;
  return new Promise((resolve, reject) => {
    req.session.regenerate((err: unknown) => {
      if (err) return reject(err);
      if (user !== undefined) req.session.user = user;
      if (rooms !== undefined) req.session.rooms = rooms;
      resolve();
    });
  });
}

/** True when this session gave the password of a locked room. */
function granted(req: Request, roomId: string): boolean {
  return Array.isArray(req.session.rooms) && req.session.rooms.includes(roomId);
}

/**
 * The server-rendered pages: lobby, new-room form, room. They read and change the chat
 * through the same operations as the WebSocket handlers.
 */
export interface PageOptions {
  trustProxy: boolean;
  limiter: Limiter;
  /** New sessions one client address may start per hour (SESSIONS_PER_HOUR). */
  sessionsPerHour: number;
}

export function createPageRoutes(chat: Chat, options: PageOptions): Router {
  const address = (req: Request) => clientAddress(req, options.trustProxy);
  const sessionRates = [{ limit: options.sessionsPerHour, windowMs: 3_600_000 }];
  // Before a route that may start the visitor's session (a row in the store): new sessions are
  // rated per address, so a script cannot mint rows without bound. A known visitor passes.
  const mayStartSession = (req: Request, res: Response, next: NextFunction) => {
    if (isUserInfo(req.session.user)) return next();
    options.limiter.take(`sessions:ip:${address(req)}`, sessionRates).then((verdict) => {
      if (verdict.ok) return next();
      res.set('Retry-After', String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))));
      res.status(429).render('error', { status: 429, message: `Too many new visitors from this address. Try again in ${waitText(verdict.retryAfterMs)}.` });
    }, next);
  };
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const limits = { titleMax: TITLE_MAX, membersMin: MEMBERS_MIN, membersMax: MEMBERS_MAX, passwordMax: PASSWORD_MAX };

  // A rename or a grant made over the socket (which cannot set a cookie) rotates the id on the
  // next page view (only pages: a page's parallel requests for GIFs must not race to rotate).
  const rotating = (req: Request, _res: Response, next: NextFunction) => {
    if (req.session.rotate !== true) return next();
    delete req.session.rotate;
    rotateSession(req).then(() => next(), next);
  };

  router.get('/', rotating, async (req, res, next) => {
    try {
      // Most recently active first (the page's script keeps this order as rooms change), a page
      // at a time: `?cursor=` (from the page's "More rooms" link) continues after an earlier page.
      const cursor = typeof req.query.cursor === 'string' && req.query.cursor !== '' ? req.query.cursor : undefined;
      const page = await chat.listRooms(cursor);
      // Without a session the page shows a passing guest; its script asks for a session (POST /session) before its socket opens.
      const known = isUserInfo(req.session.user);
      res.render('lobby', { user: known ? req.session.user : newGuest(), session: known, rooms: page.rooms, cursor: page.cursor, paged: cursor !== undefined });
    } catch (err) {
      next(err);
    }
  });

  // The lobby's script makes its session here: the socket then shares the user with every page.
  router.post('/session', mayStartSession, (req, res) => {
    sessionUser(req);
    res.status(204).end();
  });

  const renderNew = (res: Response, f: RoomForm, status = 200) => res.status(status).render('room-new', { ...f, limits });
  router.get('/room/new', (_req, res) => renderNew(res, { values: { title: '', max: String(DEFAULT_MAX_MEMBERS), password: '' }, errors: {} }));
  router.post('/room/new', form, mayStartSession, async (req, res, next) => {
    try {
      const parsed = readRoomForm(req.body ?? {});
      if (!parsed.data) return renderNew(res, parsed, 400);
      const room = await chat.createRoom(sessionUser(req), parsed.data.title, parsed.data.max, parsed.data.password, address(req));
      // The creator typed the password: no need to type it again to enter.
      if (room.locked) {
        req.session.rooms = [...(req.session.rooms ?? []).slice(-(MAX_GRANTS - 1)), room.id];
        await rotateSession(req);
      }
      res.redirect(303, `/room/${encodeURIComponent(room.id)}`);
    } catch (err) {
      next(err);
    }
  });

  const renderRoom = async (req: Request, res: Response, status = 200, passwordError?: string) => {
    const room = await chat.findRoom(String(req.params.id));
    if (!room) return res.status(404).render('error', { status: 404, message: 'This room does not exist (any more).' });
    const user = sessionUser(req);
    const members = await chat.members(room.id);
    const present = members.some((m) => m.id === user.id);
    // Someone the room would refuse (the same checks as `join`, in the same order) gets a page
    // saying so, without the room's history or members.
    const bannedUntil = present || room.owner.id === user.id ? undefined : await chat.bannedUntil(room.id, user.id, address(req));
    const refused = bannedUntil !== undefined ? 'banned' : !present && members.length >= room.max ? 'full' : undefined;
    if (refused) {
      return res.status(errorStatus[refused === 'banned' ? 'banned' : 'room_full']).render('room', {
        user,
        room: roomInfo(room, members.length),
        open: false,
        refused,
        bannedUntil,
        history: [],
        members: [],
        lastSeq: 0,
      });
    }
    const open = room.passwordHash === null || granted(req, room.id) || present;
    const page = open ? await chat.history(room.id, undefined, chat.historyLimit) : undefined;
    // The page renders entries server-side; the cache keeps them as JSON.
    const history = page ? (JSON.parse(page.json) as Entry[]) : [];
    res.status(status).render('room', {
      user,
      room: roomInfo(room, members.length),
      open,
      history,
      members: open ? members : [],
      lastSeq: page ? page.last : 0,
      passwordError,
      limits,
    });
  };
  router.get('/room/:id', rotating, mayStartSession, (req, res, next) => renderRoom(req, res).catch(next));

  // The password form posts here (never in a URL); a grant in the session lets the page and its socket in.
  router.post('/room/:id/unlock', form, mayStartSession, async (req, res, next) => {
    try {
      const room = await chat.findRoom(String(req.params.id));
      if (!room) return void (await renderRoom(req, res));
      const password = text(req.body?.password);
      // The same rule as `create` (code points, so a long password of emoji fits); one that
      // breaks it cannot be the room's: refused without hashing or counting.
      let valid = password !== '';
      try {
        roomFields.password(password, 'password');
      } catch {
        valid = false;
      }
      const user = sessionUser(req);
      let ok: boolean;
      try {
        ok = valid && (await chat.unlock(room.id, user, address(req), password));
      } catch (err) {
        // Past the attempt limits, or the hashing line is full: the page says when to try again.
        if (!(err instanceof ChatError) || err.retryAfterMs === undefined) throw err;
        res.set('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
        const at = new Date(Date.now() + err.retryAfterMs).toISOString().slice(11, 19);
        return void (await renderRoom(req, res, err.status, `${err.message[0].toUpperCase()}${err.message.slice(1)} (at ${at} UTC).`));
      }
      if (!ok) return void (await renderRoom(req, res, 403, password ? 'Wrong password.' : 'Enter the password.'));
      req.session.rooms = [...(req.session.rooms ?? []).filter((r) => r !== room.id).slice(-(MAX_GRANTS - 1)), room.id];
      await rotateSession(req);
      res.redirect(303, `/room/${encodeURIComponent(room.id)}`);
    } catch (err) {
      next(err);
    }
  });

  return router;
}
