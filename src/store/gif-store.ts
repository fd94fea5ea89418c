import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** URL path under which stored GIFs are served. */
export const GIF_URL_PREFIX = '/gif/';

const NAME = /^[A-Za-z0-9_-]{22}\.gif$/;

/** True when the bytes start with a GIF signature (GIF87a or GIF89a); names and MIME types are not trusted. */
export function isGif(bytes: Buffer): boolean {
  if (bytes.length < 6) return false;
  const magic = bytes.subarray(0, 6).toString('latin1');
  return magic === 'GIF87a' || magic === 'GIF89a';
}

/** GIF files under DATA_DIR/uploads, with random names. Served by GET /gif/:name; removed with their room. */
export class GifStore {
  constructor(readonly dir: string) {}

  /**
   * Writes the bytes under a new random name, atomically (temp file, then rename), and
   * returns the URL path to serve them at. Nothing half-written stays behind on failure.
   */
  async save(bytes: Buffer): Promise<string> {
    await fs.mkdir(this.dir, { recursive: true });
    const name = `${randomBytes(16).toString('base64url')}.gif`;
    const temp = path.join(this.dir, `.${name}.${process.pid}.tmp`);
    try {
      await fs.writeFile(temp, bytes, { flag: 'wx' });
      await fs.rename(temp, path.join(this.dir, name));
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    return GIF_URL_PREFIX + name;
  }

  /** Removes the GIFs at these URL paths (ignoring any that are not ours or already gone). */
  async remove(urls: readonly string[]): Promise<void> {
    for (const url of urls) {
      const file = url.startsWith(GIF_URL_PREFIX) ? this.file(url.slice(GIF_URL_PREFIX.length)) : undefined;
      if (file) await fs.rm(file, { force: true });
    }
  }

  /** The file path of a stored GIF name, or undefined when the name is not one of ours. */
  file(name: string): string | undefined {
    return NAME.test(name) ? path.join(this.dir, name) : undefined;
  }
}
