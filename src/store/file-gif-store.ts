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

/** How often the folder's total is measured again (other processes sharing the disk add files too). */
const RECOUNT_MS = 10 * 60_000;

/**
 * GIFs as files in one folder (DATA_DIR/uploads): for one process, or several sharing a disk.
 * `usage` is the folder's total: measured once (one stat per file), then kept up to date by
 * this process's saves and removals, and measured again every ten minutes.
 */
export class FileGifStore implements GifStore {
  private total: number | undefined;
  private countedAt = 0;
  private counting: Promise<number> | undefined;

  constructor(readonly dir: string) {}

  async usage(): Promise<number> {
    if (this.total !== undefined && Date.now() - this.countedAt < RECOUNT_MS) return this.total;
    this.counting ??= this.count().finally(() => (this.counting = undefined));
    return this.counting;
  }

  private async count(): Promise<number> {
    let total = 0;
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw failure(err);
      names = [];
    }
    for (const name of names) {
      const stat = await fs.stat(path.join(this.dir, name)).catch(() => undefined);
      if (stat?.isFile()) total += stat.size;
    }
    this.total = total;
    this.countedAt = Date.now();
    return total;
  }

  private added(bytes: number): void {
    if (this.total !== undefined) this.total = Math.max(0, this.total + bytes);
  }

  async saveFile(file: string): Promise<string> {
    const name = newGifName();
    const target = path.join(this.dir, name);
    let temp: string | undefined;
    try {
      await fs.mkdir(this.dir, { recursive: true });
      try {
        // The same disk (DATA_DIR/tmp): the file moves in whole, its bytes are not copied.
        await fs.rename(file, target);
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'EXDEV') throw err;
        // Another disk: a copy to a temp name, then rename, so a reader never sees half a GIF.
        temp = path.join(this.dir, `.${name}.${process.pid}.tmp`);
        await fs.copyFile(file, temp, fs.constants.COPYFILE_EXCL);
        await fs.rename(temp, target);
      }
      // Stored now (the Last-Modified of every copy), not when the upload began.
      const now = new Date();
      await fs.utimes(target, now, now);
      this.added((await fs.stat(target)).size);
    } catch (err) {
      await fs.rm(target, { force: true }).catch(() => {});
      if (temp !== undefined) await fs.rm(temp, { force: true }).catch(() => {});
      throw failure(err);
    } finally {
      await fs.rm(file, { force: true }).catch(() => {});
    }
    return GIF_URL_PREFIX + name;
  }

  async save(bytes: Buffer): Promise<string> {
    const name = newGifName();
    const temp = path.join(this.dir, `.${name}.${process.pid}.tmp`);
    try {
      await fs.mkdir(this.dir, { recursive: true });
      // A temp file, then rename: a reader never sees half a GIF.
      await fs.writeFile(temp, bytes, { flag: 'wx' });
      await fs.rename(temp, path.join(this.dir, name));
      this.added(bytes.length);
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
        const file = path.join(this.dir, name);
        const stat = await fs.stat(file).catch(() => undefined);
        await fs.rm(file, { force: true });
        if (stat) this.added(-stat.size);
      } catch (err) {
        throw failure(err);
      }
    }
  }
}
