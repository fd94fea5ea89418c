import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

/** What a received upload left: its temporary file, its size and its first bytes (the GIF header). */
export interface ReceivedFile {
  path: string;
  size: number;
  /** Up to the first 16 bytes (enough for the signature and the logical screen size). */
  head: Buffer;
}

const HEAD_BYTES = 16;

/**
 * The folder uploads stream into (DATA_DIR/tmp) before the GIF store takes them.
 *
 * Guarantees:
 * - An upload's bytes go to a file as they arrive: memory holds one chunk per upload, whatever
 *   its size. `receive` stops at `maxBytes + 1` bytes (the caller refuses it as too large).
 * - Files are named `<pid>-<random>.part`; nothing here reads a path from a client.
 * - `clean()` (at start-up) removes this process id's leftovers (a restarted container has the
 *   same pid) and any file older than `staleMs` (no live upload lasts that long: the upload
 *   timeout is shorter), so several processes sharing DATA_DIR never remove each other's
 *   uploads in flight. A file whose upload failed is removed by the caller (`discard`).
 */
export class UploadTemp {
  constructor(
    readonly dir: string,
    private readonly staleMs: number,
  ) {}

  /** Makes the folder and removes stale files; synchronous (start-up only). Never throws. */
  clean(): void {
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      const mine = `${process.pid}-`;
      const now = Date.now();
      for (const name of fs.readdirSync(this.dir)) {
        const file = path.join(this.dir, name);
        try {
          const stat = fs.statSync(file);
          if (name.startsWith(mine) || now - stat.mtimeMs > this.staleMs) fs.rmSync(file, { force: true, recursive: true });
        } catch {
          // Gone meanwhile, or not ours to remove: the next start tries again.
        }
      }
    } catch {
      // A folder that cannot be made fails the first upload instead (as `unavailable`).
    }
  }

  /** A new file path in the folder (not created yet). */
  newPath(): string {
    return path.join(this.dir, `${process.pid}-${randomBytes(12).toString('base64url')}.part`);
  }

  /**
   * Streams `source` into `file` (created exclusively), stopping past `maxBytes`; resolves
   * with what was written. On any failure the file is removed before the promise rejects.
   */
  async receive(source: Readable, file: string, maxBytes: number): Promise<ReceivedFile & { truncated: boolean }> {
    await fs.promises.mkdir(this.dir, { recursive: true });
    let size = 0;
    const head: Buffer[] = [];
    let headBytes = 0;
    let truncated = false;
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (headBytes < HEAD_BYTES) {
        const part = chunk.subarray(0, HEAD_BYTES - headBytes);
        head.push(Buffer.from(part));
        headBytes += part.length;
      }
    });
    source.once('limit', () => (truncated = true));
    try {
      await pipeline(source, fs.createWriteStream(file, { flags: 'wx' }));
    } catch (err) {
      await discard(file);
      throw err;
    }
    return { path: file, size, head: Buffer.concat(head), truncated: truncated || size > maxBytes };
  }
}

/** Removes a temporary file if it is still there; never rejects. */
export function discard(file: string): Promise<void> {
  return fs.promises.rm(file, { force: true }).catch(() => {});
}
