import fs from 'node:fs';
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
