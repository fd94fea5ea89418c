import express, { NextFunction, Request, Response, Router } from 'express';
import multer from 'multer';
import type { Chat } from '../chat/chat';
import { UploadErrorCode } from '../protocol/errors';
import { GifStore, isGif } from './gif-store';

type HttpErrorCode = UploadErrorCode | 'forbidden' | 'not_found';

function refuse(res: Response, status: number, code: HttpErrorCode, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/**
 * GIF upload and serving. `POST /room/:id/gif` (multipart field `gif`) is for members of
 * the room only; the file must be a real GIF (magic bytes) within MAX_UPLOAD_BYTES. The
 * upload becomes a room entry through the same operation as a `message`.
 */
export function createGifRoutes(chat: Chat, gifs: GifStore): Router {
  const router = express.Router();
  const maxBytes = chat.config.maxUploadBytes;
  // Kept in memory (bounded by fileSize) and written only once accepted, so a refused
  // or interrupted upload leaves nothing on disk.
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: maxBytes, files: 1, fields: 5, parts: 6 } }).single('gif');

  const memberOnly = (req: Request, res: Response, next: NextFunction) => {
    const room = chat.rooms.get(String(req.params.id));
    if (!room) return refuse(res, 404, 'not_found', 'This room does not exist.');
    if (!room.members.has(req.session.user!.id)) return refuse(res, 403, 'forbidden', 'Join the room before posting to it.');
    next();
  };

  const receive = (req: Request, res: Response, next: NextFunction) => {
    upload(req, res, (err: unknown) => {
      if (!err) return next();
      if (err instanceof multer.MulterError && err.code === 'LIMIT_FILE_SIZE') {
        return refuse(res, 413, 'too_large', `A GIF may be at most ${Math.floor(maxBytes / 1024 / 1024) || maxBytes} ${maxBytes >= 1024 * 1024 ? 'MiB' : 'bytes'}.`);
      }
      if (err instanceof multer.MulterError) return refuse(res, 400, 'no_file', 'Send one file in the field "gif".');
      next(err);
    });
  };

  router.post('/room/:id/gif', memberOnly, receive, async (req, res, next) => {
    try {
      const file = req.file;
      if (!file) return refuse(res, 400, 'no_file', 'Send one file in the field "gif".');
      if (!isGif(file.buffer)) return refuse(res, 415, 'not_gif', 'Only GIF images can be posted.');
      const room = chat.rooms.get(String(req.params.id));
      if (!room || !room.members.has(req.session.user!.id)) return refuse(res, 403, 'forbidden', 'You are no longer in this room.');
      const url = await gifs.save(file.buffer);
      const author = room.members.get(req.session.user!.id)!.user.info; // current name, even if renamed since
      const entry = await chat.post(room, author, { gif: url }, undefined, () => {});
      res.status(201).json(entry);
    } catch (err) {
      next(err);
    }
  });

  router.get('/gif/:name', (req, res) => {
    const file = gifs.file(String(req.params.name));
    if (!file) return refuse(res, 404, 'not_found', 'No such GIF.');
    res.sendFile(
      file,
      { headers: { 'Content-Type': 'image/gif', 'Cache-Control': 'public, max-age=31536000, immutable', 'X-Content-Type-Options': 'nosniff' } },
      (err) => {
        if (err && !res.headersSent) refuse(res, 404, 'not_found', 'No such GIF.');
      },
    );
  });

  return router;
}
