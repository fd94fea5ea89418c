import { randomBytes } from 'node:crypto';

/** URL path under which stored GIFs are served. */
export const GIF_URL_PREFIX = '/gif/';

/** A stored GIF's name: 22 random base64url characters and `.gif` (128 bits: not guessable). */
const NAME = /^[A-Za-z0-9_-]{22}\.gif$/;

/** True when the bytes start with a GIF signature (GIF87a or GIF89a); names and MIME types are not trusted. */
export function isGif(bytes: Buffer): boolean {
  if (bytes.length < 6) return false;
  const magic = bytes.subarray(0, 6).toString('latin1');
  return magic === 'GIF87a' || magic === 'GIF89a';
}

/**
 * The GIF's size in pixels, from its logical screen descriptor (the 4 bytes after the
 * signature, little-endian), or undefined when the header is short or says 0.
 */
export function gifSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (!isGif(bytes) || bytes.length < 10) return undefined;
  const width = bytes.readUInt16LE(6);
  const height = bytes.readUInt16LE(8);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/** A new random GIF name. */
export function newGifName(): string {
  return `${randomBytes(16).toString('base64url')}.gif`;
}

/** True when `name` has the shape of a stored GIF's name (anything else is never looked up). */
export function isGifName(name: string): boolean {
  return NAME.test(name);
}

/** The names of the GIFs at these URL paths that are ours (others are ignored). */
export function gifNames(urls: readonly string[]): string[] {
  return urls.filter((url) => url.startsWith(GIF_URL_PREFIX)).map((url) => url.slice(GIF_URL_PREFIX.length)).filter(isGifName);
}

/** A stored GIF, ready to serve: its bytes in memory or in a file. */
export type StoredGif = {
  /** Size in bytes. */
  size: number;
  /** When it was stored (ms since epoch): the Last-Modified of every copy, from any process. */
  storedAt: number;
} & ({ bytes: Buffer } | { file: string });

/**
 * Where uploaded GIFs' bytes live: files under DATA_DIR/uploads for one process
 * (./file-gif-store.ts), the database when several processes serve the same GIFs
 * (./pg-gif-store.ts).
 *
 * Guarantees (test/store/gif-store-contract.ts checks each, on every implementation):
 * - `save` is atomic: once it resolves, every process reading the same storage finds the
 *   whole GIF; when it rejects, nothing of it is left. Names are random and never reused.
 * - `saveFile` is `save` of a file's bytes (an upload streamed to a temporary file): the
 *   same guarantees, and once it settles (resolved or rejected) the file at that path is
 *   gone: moved into the store, or read and removed. The caller keeps no copy in memory.
 * - `usage` is the bytes this store holds that no Store's `usage` already counts (files on
 *   disk; 0 when the GIFs live in the database, which the database's size includes). It is
 *   cheap to call every few seconds (kept incrementally, not measured per call).
 * - `read` answers undefined for a name that is not stored, or not shaped like ours
 *   (nothing else is ever looked up: no path or query is built from a caller's string).
 * - `remove` is idempotent and ignores URLs that are not ours.
 * - Errors: storage that is down or full rejects with ChatError `unavailable` (retry later;
 *   nothing was written); anything else is a plain Error. No driver type crosses this seam.
 */
export interface GifStore {
  /** Stores the bytes under a new random name; resolves with the URL path to serve them at. */
  save(bytes: Buffer): Promise<string>;
  /** Stores the bytes of the file at `file` (which is gone afterwards); resolves with the URL path. */
  saveFile(file: string): Promise<string>;
  /** Bytes held outside the database (see the guarantees). */
  usage(): Promise<number>;
  /** The GIF stored under `name` (the part after GIF_URL_PREFIX), or undefined. */
  read(name: string): Promise<StoredGif | undefined>;
  /** Removes the GIFs at these URL paths (those of a room that expired). */
  remove(urls: readonly string[]): Promise<void>;
}
