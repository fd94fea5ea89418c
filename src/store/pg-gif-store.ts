import fs from 'node:fs/promises';
import { GIF_URL_PREFIX, GifStore, StoredGif, gifNames, isGifName, newGifName } from './gif-store';

/** The rows the PostgreSQL store keeps GIFs in (table `gifs`); errors already translated by it. */
export interface GifRows {
  insert(name: string, bytes: Buffer, storedAt: number): Promise<void>;
  select(name: string): Promise<{ bytes: Buffer; storedAt: number } | undefined>;
  delete(names: string[]): Promise<void>;
}

export interface PgGifStoreOptions {
  /** Bytes of recently served GIFs kept in this process (least recently served go first). */
  cacheBytes?: number;
  /** How long a cached GIF is served without asking the database whether it still exists. */
  cacheMs?: number;
}

/** 32 MiB: a few dozen GIFs, the ones a busy room is showing right now. */
export const GIF_CACHE_BYTES = 32 * 1024 * 1024;
const GIF_CACHE_MS = 10 * 60 * 1000;

interface Cached {
  gif: StoredGif & { bytes: Buffer };
  until: number;
}

/**
 * GIF bytes in PostgreSQL (bytea), so any process serves any GIF. A new GIF in a busy room
 * is fetched by every member at once: concurrent reads of one GIF share one query, and
 * recently served GIFs stay in a bounded cache (GIFs never change; a removed one may be
 * served from another process's cache for at most `cacheMs`).
 */
export class PgGifStore implements GifStore {
  private readonly cache = new Map<string, Cached>();
  private cached = 0;
  private readonly loading = new Map<string, Promise<StoredGif | undefined>>();
  private readonly cacheBytes: number;
  private readonly cacheMs: number;

  constructor(
    private readonly rows: GifRows,
    options: PgGifStoreOptions = {},
  ) {
    this.cacheBytes = options.cacheBytes ?? GIF_CACHE_BYTES;
    this.cacheMs = options.cacheMs ?? GIF_CACHE_MS;
  }

  async save(bytes: Buffer): Promise<string> {
    const name = newGifName();
    await this.rows.insert(name, bytes, Date.now());
    return GIF_URL_PREFIX + name;
  }

  /** Reads the file (at most MAX_UPLOAD_BYTES) into the insert, then removes it, saved or not. */
  async saveFile(file: string): Promise<string> {
    try {
      return await this.save(await fs.readFile(file));
    } finally {
      await fs.rm(file, { force: true }).catch(() => {});
    }
  }

  /** 0: the GIFs are rows of the database, whose size the PostgreSQL store's `usage` counts. */
  usage(): Promise<number> {
    return Promise.resolve(0);
  }

  read(name: string): Promise<StoredGif | undefined> {
    if (!isGifName(name)) return Promise.resolve(undefined);
    const hit = this.cache.get(name);
    if (hit && hit.until > Date.now()) {
      // Most recently used last.
      this.cache.delete(name);
      this.cache.set(name, hit);
      return Promise.resolve(hit.gif);
    }
    if (hit) this.evict(name);
    let loading = this.loading.get(name);
    if (!loading) {
      loading = this.rows.select(name).then(
        (row) => {
          this.loading.delete(name);
          if (!row) return undefined;
          const gif = { size: row.bytes.length, storedAt: row.storedAt, bytes: row.bytes };
          this.keep(name, gif);
          return gif;
        },
        (err: unknown) => {
          this.loading.delete(name);
          throw err;
        },
      );
      this.loading.set(name, loading);
    }
    return loading;
  }

  async remove(urls: readonly string[]): Promise<void> {
    const names = gifNames(urls);
    if (names.length === 0) return;
    for (const name of names) this.evict(name);
    await this.rows.delete(names);
  }

  private keep(name: string, gif: StoredGif & { bytes: Buffer }): void {
    if (gif.size > this.cacheBytes / 4) return;
    this.evict(name);
    this.cache.set(name, { gif, until: Date.now() + this.cacheMs });
    this.cached += gif.size;
    for (const [oldest, entry] of this.cache) {
      if (this.cached <= this.cacheBytes) break;
      this.cache.delete(oldest);
      this.cached -= entry.gif.size;
    }
  }

  private evict(name: string): void {
    const entry = this.cache.get(name);
    if (!entry) return;
    this.cache.delete(name);
    this.cached -= entry.gif.size;
  }
}
