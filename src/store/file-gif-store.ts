import fs from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../protocol/errors';
import { GIF_URL_PREFIX, GifStore, StoredGif, gifNames, isGifName, newGifName } from './gif-store';

/** File system errors that mean the storage failed (retry later), with a reason anyone may read. */
const reasons: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EIO: 'the disk had an I/O error',
  EROFS: 'the disk is read-only',
  EMFILE: 'too many files are open',
  ENFILE: 'too many files are open',
};

function failure(err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && reasons[code] !== undefined) return fail.unavailable(`GIF storage is unavailable: ${reasons[code]}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** GIFs as files in one folder (DATA_DIR/uploads): for one process, or several sharing a disk. */
export class FileGifStore implements GifStore {
  constructor(readonly dir: string) {}

  async save(bytes: Buffer): Promise<string> {
    const name = newGifName();
    const temp = path.join(this.dir, `.${name}.${process.pid}.tmp`);
    try {
      await fs.mkdir(this.dir, { recursive: true });
      // A temp file, then rename: a reader never sees half a GIF.
      await fs.writeFile(temp, bytes, { flag: 'wx' });
      await fs.rename(temp, path.join(this.dir, name));
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => {});
      throw failure(err);
    }
    return GIF_URL_PREFIX + name;
  }

  async read(name: string): Promise<StoredGif | undefined> {
    if (!isGifName(name)) return undefined;
    const file = path.join(this.dir, name);
    try {
      const stat = await fs.stat(file);
      return stat.isFile() ? { size: stat.size, storedAt: Math.floor(stat.mtimeMs), file } : undefined;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
      throw failure(err);
    }
  }

  async remove(urls: readonly string[]): Promise<void> {
    for (const name of gifNames(urls)) {
      try {
        await fs.rm(path.join(this.dir, name), { force: true });
      } catch (err) {
        throw failure(err);
      }
    }
  }
}
