import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GIF_URL_PREFIX, GifStore, StoredGif } from '../../src/store/gif-store';
import { makeGif } from '../helpers/gif';

/** What a contract run gets from the implementation under test. */
export interface OpenedGifStore {
  /** A fresh, empty GIF store. */
  gifs: GifStore;
  /** Another handle on the same storage, as another process has (nothing cached yet). */
  other: () => Promise<GifStore>;
}

/** The bytes of a stored GIF, from memory or its file. */
export function bytesOf(gif: StoredGif): Buffer {
  return 'bytes' in gif ? gif.bytes : fs.readFileSync(gif.file);
}

const nameOf = (url: string) => url.slice(GIF_URL_PREFIX.length);

const madeDirs: string[] = [];
afterAll(() => {
  for (const dir of madeDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A file holding `bytes`, as an upload streamed to a temporary file leaves it. */
function tempFile(bytes: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gif-chat-upload-'));
  madeDirs.push(dir);
  const file = path.join(dir, 'upload.part');
  fs.writeFileSync(file, bytes);
  return file;
}

/** The behaviour every GifStore must have (see src/store/gif-store.ts). */
export function gifStoreContract(name: string, open: () => Promise<OpenedGifStore>): void {
  describe(`${name} GIF store contract`, () => {
    let gifs: GifStore;
    let other: () => Promise<GifStore>;
    beforeEach(async () => {
      ({ gifs, other } = await open());
    });

    test('a saved GIF is read back whole, with its size and time, by this handle and by another', async () => {
      const bytes = makeGif(64);
      const before = Date.now();
      const url = await gifs.save(bytes);
      const after = Date.now();
      expect(url).toMatch(/^\/gif\/[A-Za-z0-9_-]{22}\.gif$/);
      for (const handle of [gifs, await other()]) {
        const gif = await handle.read(nameOf(url));
        expect(gif).toBeDefined();
        expect(gif!.size).toBe(bytes.length);
        expect(bytesOf(gif!).equals(bytes)).toBe(true);
        expect(gif!.storedAt).toBeGreaterThanOrEqual(before - 1000);
        expect(gif!.storedAt).toBeLessThanOrEqual(after + 1000);
      }
    });

    test('saveFile stores a file\'s bytes, readable everywhere, and the file is gone afterwards; a missing file is refused and leaves nothing', async () => {
      const bytes = makeGif(48);
      const file = tempFile(bytes);
      const before = Date.now();
      const url = await gifs.saveFile(file);
      expect(url).toMatch(/^\/gif\/[A-Za-z0-9_-]{22}\.gif$/);
      expect(fs.existsSync(file)).toBe(false);
      for (const handle of [gifs, await other()]) {
        const gif = await handle.read(nameOf(url));
        expect(bytesOf(gif!).equals(bytes)).toBe(true);
        expect(gif!.storedAt).toBeGreaterThanOrEqual(before - 1000);
      }
      const urls = await Promise.all([tempFile(bytes), tempFile(bytes)].map((f) => gifs.saveFile(f)));
      expect(new Set([url, ...urls]).size).toBe(3);
      await expect(gifs.saveFile(path.join(path.dirname(file), 'missing.part'))).rejects.toThrow();
    });

    test('usage counts what the store holds outside the database: it grows with saves and shrinks with removals, never below 0', async () => {
      const start = await gifs.usage();
      expect(start).toBeGreaterThanOrEqual(0);
      const url = await gifs.saveFile(tempFile(makeGif(300)));
      const grown = await gifs.usage();
      expect(grown).toBeGreaterThanOrEqual(start);
      await gifs.remove([url]);
      const shrunk = await gifs.usage();
      expect(shrunk).toBeLessThanOrEqual(grown);
      expect(shrunk).toBeGreaterThanOrEqual(0);
    });

    test('every save gets a new name, also for the same bytes', async () => {
      const bytes = makeGif(16);
      const urls = await Promise.all(Array.from({ length: 10 }, () => gifs.save(bytes)));
      expect(new Set(urls).size).toBe(10);
    });

    test('many reads of one GIF at once all get the whole GIF', async () => {
      const bytes = makeGif(200);
      const url = await gifs.save(bytes);
      const reader = await other();
      const all = await Promise.all(Array.from({ length: 25 }, () => reader.read(nameOf(url))));
      for (const gif of all) expect(bytesOf(gif!).equals(bytes)).toBe(true);
    });

    test('names that are not stored, or not shaped like ours, read as undefined (tried: traversal, other extensions, empty, encoded)', async () => {
      const url = await gifs.save(makeGif(8));
      const stored = nameOf(url);
      const tried = ['AAAAAAAAAAAAAAAAAAAAAA.gif', '../gif-chat.db', `../uploads/${stored}`, stored.replace('.gif', '.png'), '', '.gif', `${stored}/`, `%2e%2e%2f${stored}`, `${stored.slice(0, -4).toUpperCase()}.gif`];
      for (const name of tried) expect(await gifs.read(name)).toBeUndefined();
    });

    test('remove deletes the GIFs at those URLs, everywhere; it is idempotent and ignores URLs that are not ours', async () => {
      const keep = await gifs.save(makeGif(8));
      const gone = await gifs.save(makeGif(9));
      expect(await gifs.read(nameOf(gone))).toBeDefined(); // now cached where a store caches
      await gifs.remove([gone, '/gif/../gif-chat.db', 'https://example.com/x.gif', '/gif/AAAAAAAAAAAAAAAAAAAAAA.gif']);
      await gifs.remove([gone]);
      expect(await gifs.read(nameOf(gone))).toBeUndefined();
      expect(await (await other()).read(nameOf(gone))).toBeUndefined();
      expect(bytesOf((await gifs.read(nameOf(keep)))!).equals(makeGif(8))).toBe(true);
    });
  });
}
