import fs from 'node:fs';
import express, { NextFunction, Request, Response, Router } from 'express';
import multer from 'multer';
import type { Chat } from '../chat/chat';
import { AnyErrorCode, ChatError, errorStatus, fail, toWireError } from '../protocol/errors';
import { GifStore, gifSize, isGif } from '../store/gif-store';

/**
 * Answers with an error of the vocabulary, as `{error: {code, message}}` with the code's HTTP
 * status; a time to wait is also the Retry-After header (seconds) and `retryAfterMs`.
 */
function refuse(res: Response, code: AnyErrorCode, message: string, retryAfterMs?: number): void {
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

/**
 * GIF upload and serving. `POST /room/:id/gif` (multipart field `gif`) is for members of
 * the room only; the file must be a real GIF (magic bytes) within MAX_UPLOAD_BYTES. The
 * upload becomes a room entry through the same operation as a `message`.
 */
export function createGifRoutes(chat: Chat, gifs: GifStore, maxBytes: number): Router {
  const router = express.Router();
  // Kept in memory (bounded by fileSize) and written only once accepted, so a refused
  // or interrupted upload leaves nothing on disk.
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: maxBytes, files: 1, fields: 5, parts: 6 } }).single('gif');

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

  const receive = (req: Request, res: Response, next: NextFunction) => {
    upload(req, res, (err: unknown) => {
      if (!err) return next();
      if (err instanceof multer.MulterError && err.code === 'LIMIT_FILE_SIZE') {
        return send(res, fail.tooLarge(maxBytes));
      }
      if (err instanceof multer.MulterError) return send(res, fail.noFile());
      next(err);
    });
  };

  router.post('/room/:id/gif', memberOnly, receive, async (req, res, next) => {
    try {
      const file = req.file;
      if (!file) return send(res, fail.noFile());
      if (!isGif(file.buffer)) return send(res, fail.notGif());
      const roomId = String(req.params.id);
      const author = await chat.member(roomId, req.session.user!.id); // current name, even if renamed since
      if (!author) return refuse(res, 'forbidden', 'You are no longer in this room.');
      const url = await gifs.save(file.buffer);
      const entry = await chat.post(roomId, author, { gif: url, ...gifSize(file.buffer) }, undefined).catch(async (err: unknown) => {
        await gifs.remove([url]); // refused (the room went, the store is down): nothing stays on disk
        throw err;
      });
      res.status(201).json(entry);
    } catch (err) {
      const wire = toWireError(err);
      if (wire.unexpected) return next(err);
      refuse(res, wire.code, wire.message, wire.retryAfterMs);
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
