import fs from 'node:fs';
import express, { NextFunction, Request, Response, Router } from 'express';
import multer from 'multer';
import type { Chat } from '../chat/chat';
import { AnyErrorCode, ChatError, errorStatus, fail, toWireError } from '../protocol/errors';
import type { Limiter } from '../limits/limiter';
import { GifStore, gifSize, isGif } from '../store/gif-store';
import { UploadTemp, discard } from './upload-temp';

/**
 * Answers with an error of the vocabulary, as `{error: {code, message}}` with the code's HTTP
 * status; a time to wait is also the Retry-After header (seconds) and `retryAfterMs`. Once
 * an answer went out, nothing more is sent.
 */
function refuse(res: Response, code: AnyErrorCode, message: string, retryAfterMs?: number): void {
  if (res.headersSent) return; // answered already (an upload cut for being too slow)
  if (retryAfterMs === undefined) {
    res.status(errorStatus[code]).json({ error: { code, message } });
    return;
  }
  res.set('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  res.status(errorStatus[code]).json({ error: { code, message, retryAfterMs } });
}

function send(res: Response, err: ChatError): void {
  refuse(res, err.code, err.message, err.retryAfterMs);
}

/** What the upload route is bounded by (see docs/security.md). */
export interface UploadOptions {
  /** Largest GIF in bytes (MAX_UPLOAD_BYTES). */
  maxBytes: number;
  /** Where bodies stream to before the GIF store takes them (DATA_DIR/tmp). */
  tempDir: string;
  /** Counts uploads in flight per user and per day, across processes. */
  limiter: Limiter;
  /** Uploads one user may have in flight at once (UPLOADS_PER_USER). */
  perUser: number;
  /** Uploads this process receives at once (UPLOADS_AT_ONCE). */
  atOnce: number;
  /** A body silent this long is cut (UPLOAD_IDLE_MS). */
  idleMs: number;
  /** A body taking longer than this in all is cut (UPLOAD_TIMEOUT_MS). */
  timeoutMs: number;
  /** Uploads per user per day (UPLOADS_PER_DAY). */
  perDay: number;
  /** Bytes per user per day (UPLOAD_BYTES_PER_DAY). */
  bytesPerDay: number;
  /** The storage budget: true when it is used up (a cached figure, never a query). */
  storageFull?: () => boolean;
}

const DAY_MS = 86_400_000;

/** Bytes in words: whole MiB when it is one, else bytes. */
function bytesText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.floor(bytes / 1024 / 1024)} MiB` : `${bytes} bytes`;
}
/** The wait suggested when all of a user's (or the process's) upload places are taken. */
const BUSY_RETRY_MS = 2000;

/** One upload in flight: its temporary files, released once when its response closes. */
interface Upload {
  files: Set<string>;
  /** The GIF store has the file now (moved or read): nothing left to remove for it. */
  handedOver: boolean;
  closed: boolean;
  /** Restarts the idle clock (on every chunk of the body). */
  touch: () => void;
}

/**
 * GIF upload and serving. `POST /room/:id/gif` (multipart field `gif`) is for members of
 * the room only; the file must be a real GIF (magic bytes) within MAX_UPLOAD_BYTES. The
 * upload becomes a room entry through the same operation as a `message`.
 *
 * Guarantees of the upload route:
 * - Everything that needs no body is checked before a byte of it is read: the room and
 *   membership, the storage budget, this process's places (`atOnce`), the user's places
 *   (`perUser`, across processes) and the user's daily count.
 * - The body streams to a file under `tempDir`, never into memory, and stops past `maxBytes`.
 * - A body silent for `idleMs`, or unfinished after `timeoutMs`, is cut: 408 `too_slow` and
 *   the connection closed.
 * - The temporary file is removed on every failure: refused, cut, aborted by the client.
 *   Places are given back when the response closes, whatever happened.
 */
export function createGifRoutes(chat: Chat, gifs: GifStore, options: UploadOptions): Router {
  const router = express.Router();
  const { maxBytes, limiter } = options;
  const temp = new UploadTemp(options.tempDir, options.timeoutMs + 60_000);
  temp.clean();
  const uploads = new WeakMap<Request, Upload>();
  let inFlight = 0;

  // Streams the file part to DATA_DIR/tmp. multer removes a stored file when the request
  // fails after it (size limit, abort); the route removes whatever is left when it closes.
  const storage: multer.StorageEngine = {
    _handleFile(req, file, cb) {
      const upload = uploads.get(req);
      const target = temp.newPath();
      upload?.files.add(target);
      temp.receive(file.stream, target, maxBytes).then(
        (received) => {
          if (upload?.closed) return void discard(target).then(() => cb(new Error('upload closed')));
          cb(null, { path: received.path, size: received.size, head: received.head } as Partial<Express.Multer.File>);
        },
        (err: unknown) => cb(err),
      );
    },
    _removeFile(_req, file, cb) {
      discard(file.path).then(() => cb(null), cb);
    },
  };
  const upload = multer({ storage, limits: { fileSize: maxBytes, files: 1, fields: 5, parts: 6, fieldSize: 1024 } }).single('gif');

  // Arms the clocks and the clean-up; first, so every refusal below is covered too. The idle
  // clock runs until the body has ended, the total one until the response closes (Node closes
  // the connection of a request refused before its body was read).
  const track = (req: Request, res: Response, next: NextFunction) => {
    const state: Upload = { files: new Set(), handedOver: false, closed: false, touch: () => {} };
    uploads.set(req, state);
    const cut = (idle: boolean) => {
      stop();
      if (res.headersSent) return void req.socket.destroy();
      res.set('Connection', 'close');
      res.once('finish', () => req.socket.destroy());
      send(res, fail.tooSlow(idle));
    };
    const idle = setTimeout(() => cut(true), options.idleMs).unref();
    const total = setTimeout(() => cut(false), options.timeoutMs).unref();
    const stop = () => {
      clearTimeout(idle);
      clearTimeout(total);
    };
    state.touch = () => idle.refresh();
    // No byte is awaited once the body has ended; the total clock runs until the answer, so
    // nothing (a parser or a store that never calls back) holds a place longer than it.
    req.once('end', () => clearTimeout(idle));
    res.once('close', () => {
      stop();
      state.closed = true;
      if (!state.handedOver) for (const file of state.files) void discard(file);
    });
    next();
  };

  const memberOnly = async (req: Request, res: Response, next: NextFunction) => {
    try {
      const room = await chat.findRoom(String(req.params.id));
      if (!room) return refuse(res, 'not_found', 'This room does not exist.');
      const user = req.session.user; // none without a session: no member of anything
      if (!user || !(await chat.isMember(room.id, user.id))) return refuse(res, 'forbidden', 'Join the room before posting to it.');
      next();
    } catch (err) {
      next(err);
    }
  };

  // Places and quotas, before the body: a refused upload costs the server no bytes.
  const admit = async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (options.storageFull?.()) return send(res, fail.storageFull());
      if (inFlight >= options.atOnce) return send(res, new ChatError('unavailable', 'The server is receiving too many uploads right now; try again in a moment.', BUSY_RETRY_MS));
      inFlight++;
      res.once('close', () => inFlight--);
      const userId = req.session.user!.id;
      const lease = await limiter.acquire(`upload:${userId}`, options.perUser);
      if (res.writableEnded || res.destroyed) return lease?.release();
      if (!lease) return send(res, fail.rateLimited(`At most ${options.perUser} uploads at once; wait for the others to finish.`, BUSY_RETRY_MS));
      res.once('close', () => lease.release());
      const verdict = await limiter.take(`uploads:${userId}`, [{ limit: options.perDay, windowMs: DAY_MS }]);
      if (!verdict.ok) return send(res, fail.rateLimited(`At most ${options.perDay} uploads a day.`, verdict.retryAfterMs));
      next();
    } catch (err) {
      // A limiter that is down refuses the upload (`unavailable`, as JSON like every refusal here).
      const wire = toWireError(err);
      if (wire.unexpected) return next(err);
      refuse(res, wire.code, wire.message, wire.retryAfterMs ?? BUSY_RETRY_MS);
    }
  };

  const receive = (req: Request, res: Response, next: NextFunction) => {
    // Listened to only now, in the same tick multer pipes the body (a 'data' listener starts
    // the flow): each chunk restarts the idle clock.
    const state = uploads.get(req)!;
    req.on('data', () => state.touch());
    upload(req, res, (err: unknown) => {
      if (res.headersSent) return; // cut for stalling: answered already
      if (!err) return next();
      if (err instanceof multer.MulterError && err.code === 'LIMIT_FILE_SIZE') {
        return send(res, fail.tooLarge(maxBytes));
      }
      if (err instanceof multer.MulterError) return send(res, fail.noFile());
      if (!res.socket || res.socket.destroyed) return; // the client went away: nothing to answer
      // The temp file could not be written (disk full, folder gone): retry later; nothing was kept.
      if (typeof (err as { syscall?: unknown })?.syscall === 'string') {
        return send(res, new ChatError('unavailable', 'The server cannot store uploads right now; try again in a moment.', BUSY_RETRY_MS));
      }
      // Anything else is a body that is not a well-formed form (no boundary, cut short).
      send(res, fail.noFile());
    });
  };

  router.post('/room/:id/gif', track, memberOnly, admit, receive, async (req, res, next) => {
    const state = uploads.get(req)!;
    const file = req.file as (Express.Multer.File & { head: Buffer }) | undefined;
    try {
      if (!file) return send(res, fail.noFile());
      if (file.size > maxBytes) return send(res, fail.tooLarge(maxBytes));
      if (!isGif(file.head)) return send(res, fail.notGif());
      const userId = req.session.user!.id;
      const bytes = await limiter.take(`upload-bytes:${userId}`, [{ limit: options.bytesPerDay, windowMs: DAY_MS }], file.size);
      if (!bytes.ok) return send(res, fail.rateLimited(`At most ${bytesText(options.bytesPerDay)} of GIFs a day.`, bytes.retryAfterMs));
      if (options.storageFull?.()) return send(res, fail.storageFull());
      const roomId = String(req.params.id);
      const author = await chat.member(roomId, userId); // current name, even if renamed since
      if (!author) return refuse(res, 'forbidden', 'You are no longer in this room.');
      if (state.closed) return; // the client went away while it was checked
      state.handedOver = true;
      const url = await gifs.saveFile(file.path);
      const entry = await chat.post(roomId, author, { gif: url, ...gifSize(file.head) }, undefined).catch(async (err: unknown) => {
        await gifs.remove([url]); // refused (the room went, the store is down): nothing stays on disk
        throw err;
      });
      if (!res.headersSent) res.status(201).json(entry); // (else cut by UPLOAD_TIMEOUT_MS meanwhile)
    } catch (err) {
      const wire = toWireError(err);
      if (wire.unexpected) return next(err);
      if (!res.headersSent) refuse(res, wire.code, wire.message, wire.retryAfterMs);
    } finally {
      if (file) await discard(file.path);
    }
  });

  // Served the same way from files and from the database: immutable, never sniffed.
  router.get('/gif/:name', async (req, res, next) => {
    try {
      const name = String(req.params.name);
      const gif = await gifs.read(name);
      if (!gif) return refuse(res, 'not_found', 'No such GIF.');
      res.set({
        'Content-Type': 'image/gif',
        'Content-Length': String(gif.size),
        'Cache-Control': 'public, max-age=31536000, immutable',
        'X-Content-Type-Options': 'nosniff',
        'Last-Modified': new Date(gif.storedAt).toUTCString(),
        // The name is unique to these bytes, which never change.
        ETag: `"${name.slice(0, -4)}"`,
      });
      if (req.fresh) return void res.status(304).end();
      if (req.method === 'HEAD') return void res.end();
      if ('bytes' in gif) return void res.end(gif.bytes);
      const stream = fs.createReadStream(gif.file);
      stream.on('error', (err) => {
        if (!res.headersSent && (err as { code?: unknown }).code === 'ENOENT') return refuse(res.removeHeader('Content-Length') ?? res, 'not_found', 'No such GIF.');
        if (!res.headersSent) return next(err);
        res.destroy(err);
      });
      stream.pipe(res);
    } catch (err) {
      const wire = toWireError(err);
      if (wire.unexpected) return next(err);
      refuse(res, wire.code, wire.message, wire.retryAfterMs);
    }
  });

  return router;
}
