import path from 'node:path';
import { HistoryCache, HistoryPage } from '../../src/chat/history-cache';
import { Entry } from '../../src/protocol';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { tempDataDir } from '../helpers/server';

const user = { id: 'u_a', name: 'A', color: '#c0392b' };

describe('history cache', () => {
  test.each([5, 16])('answers exactly what the store answers, across capacity, trims and boundaries (capacity %i)', async (capacity) => {
    const store = openSqliteStore(path.join(tempDataDir(), 'gif-chat.db'));
    try {
      await store.createRoom({ id: 'r', title: 't', max: 10, passwordHash: null, owner: user, createdAt: 1 });
      const cache = new HistoryCache(store, capacity);
      cache.track('r');
      const commit = async (seq: number, text = `m${seq}`) => {
        const [result] = await store.append([{ entry: { room: 'r', user, text, ts: seq } }]);
        if (!('entry' in result)) throw new Error('refused');
        expect(result.entry.seq).toBe(seq);
        cache.add(result.entry);
      };
      // The cache answers with JSON pages; they must hold exactly the store's entries.
      const asPage = (entries: Entry[]) => ({ entries, count: entries.length, last: entries.length ? entries[entries.length - 1].seq : 0 });
      const read = (page: HistoryPage) => ({ entries: JSON.parse(page.json) as Entry[], count: page.count, last: page.last });
      const compare = async () => {
        const last = (await store.entriesBefore('r', undefined, 1))[0]?.seq ?? 0;
        for (const limit of [1, 3, 5, 8]) {
          expect(read(await cache.before('r', undefined, limit))).toEqual(asPage(await store.entriesBefore('r', undefined, limit)));
          for (let b = 1; b <= last + 1; b++) expect(read(await cache.before('r', b, limit))).toEqual(asPage(await store.entriesBefore('r', b, limit)));
          for (let since = 0; since <= last; since++) {
            const stored = await store.entriesAfter('r', since, limit + 1);
            const page = await cache.after('r', since, limit);
            expect(read(page)).toEqual(asPage(stored.slice(0, limit)));
            expect(page.more).toBe(stored.length > limit);
          }
        }
      };
      await compare(); // empty room
      for (let seq = 1; seq <= 3; seq++) await commit(seq);
      await compare(); // the whole history fits
      for (let seq = 4; seq <= 12; seq++) await commit(seq);
      await compare(); // trimmed: older pages come from the store
      // Long texts (multi-byte too) force the byte buffer to grow and compact.
      for (let seq = 13; seq <= 40; seq++) await commit(seq, `${'é'.repeat(seq * 20)} ${seq}`);
      await compare(); // grown
      for (let seq = 41; seq <= 60; seq++) await commit(seq);
      await compare(); // short again: the buffer shrinks back
      cache.drop('r');
      await compare(); // not tracked: every read goes to the store
      cache.track('r');
      await compare(); // reloaded from the store
    } finally {
      await store.close();
    }
  });

  test('keeps a contiguous run: a duplicate is ignored, a hole drops the tail, and an untracked room reads the store', async () => {
    const store = openSqliteStore(path.join(tempDataDir(), 'gif-chat.db'));
    try {
      await store.createRoom({ id: 'r', title: 't', max: 10, passwordHash: null, owner: user, createdAt: 1 });
      const cache = new HistoryCache(store, 10);
      const append = async (text: string) => {
        const [result] = await store.append([{ entry: { room: 'r', user, text, ts: 1 } }]);
        if (!('entry' in result)) throw new Error('refused');
        return result.entry;
      };
      const texts = async () => (JSON.parse((await cache.before('r', undefined, 10)).json) as { text: string }[]).map((e) => e.text);
      const first = await append('one');
      expect(await texts()).toEqual(['one']); // untracked: from the store
      cache.track('r');
      expect(await texts()).toEqual(['one']); // loaded
      const second = await append('two');
      cache.add(second);
      cache.add(second); // a duplicate push
      cache.add(first); // an old one
      expect(await texts()).toEqual(['one', 'two']);
      await append('three'); // committed elsewhere, its push lost
      const fourth = await append('four');
      cache.add(fourth); // a hole below it: the tail is dropped and reloaded whole
      expect(await texts()).toEqual(['one', 'two', 'three', 'four']);
    } finally {
      await store.close();
    }
  });

  test('pages are bounded in bytes as well as count: the newest entries before, the oldest after (with more), at least one, from the tail or the store alike', async () => {
    const store = openSqliteStore(path.join(tempDataDir(), 'gif-chat.db'));
    try {
      await store.createRoom({ id: 'r', title: 't', max: 10, passwordHash: null, owner: user, createdAt: 1 });
      const cache = new HistoryCache(store, 16);
      cache.track('r');
      for (let seq = 1; seq <= 30; seq++) {
        const [result] = await store.append([{ entry: { room: 'r', user, text: 'x'.repeat((seq * 37) % 300), ts: seq } }]);
        if ('entry' in result) cache.add(result.entry);
      }
      const all = await store.entriesAfter('r', 0, 100);
      const size = (entries: Entry[]) => Buffer.byteLength(JSON.stringify(entries));
      const seqs = (page: HistoryPage) => (JSON.parse(page.json) as Entry[]).map((e) => e.seq);
      const check = async () => {
        for (const maxBytes of [1, 300, 1000, 4000, Infinity]) {
          for (const limit of [1, 5, 16, 40]) {
            for (let b = 1; b <= 31; b += 3) {
              // The reference: the newest `limit` below b, trimmed from the oldest while over maxBytes.
              let expected = all.filter((e) => e.seq < b).slice(-limit);
              while (expected.length > 1 && size(expected) > maxBytes) expected = expected.slice(1);
              const page = await cache.before('r', b, limit, maxBytes);
              expect(seqs(page)).toEqual(expected.map((e) => e.seq));
              expect(Buffer.byteLength(page.json)).toBe(size(expected));
            }
            for (let since = 0; since <= 30; since += 3) {
              let expected = all.filter((e) => e.seq > since).slice(0, limit);
              while (expected.length > 1 && size(expected) > maxBytes) expected = expected.slice(0, -1);
              const page = await cache.after('r', since, limit, maxBytes);
              expect(seqs(page)).toEqual(expected.map((e) => e.seq));
              expect(page.more).toBe(expected.length > 0 && expected[expected.length - 1].seq < 30);
            }
          }
        }
      };
      await check(); // from the tail where it covers the read
      cache.drop('r');
      await check(); // from the store
    } finally {
      await store.close();
    }
  });

  test('all tails together stay within the byte budget, the least recently read rooms evicted first; answers stay exact', async () => {
    // Tried: 100 rooms of 20 large (~8 KB) messages each, every one read: about 16 MB of
    // tails unbounded, here a 1 MiB budget.
    const store = openSqliteStore(path.join(tempDataDir(), 'gif-chat.db'));
    let loads = 0;
    // The real store, counting the tail loads (reads of the newest entries).
    const counted = new Proxy(store, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (key === 'entriesBefore') return (...args: Parameters<typeof store.entriesBefore>) => (loads++, store.entriesBefore(...args));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    try {
      const budget = 1024 * 1024;
      const cache = new HistoryCache(counted, 100, budget);
      for (let r = 0; r < 100; r++) {
        const room = `r${r}`;
        await store.createRoom({ id: room, title: 't', max: 10, passwordHash: null, owner: user, createdAt: 1 });
        cache.track(room);
        for (const result of await store.append(Array.from({ length: 20 }, (_, i) => ({ entry: { room, user, text: `${'é'.repeat(3990)} ${i}`, ts: i } })))) {
          if ('entry' in result) cache.add(result.entry);
        }
        const page = await cache.before(room, undefined, 100);
        expect(page.count).toBe(20);
        expect(cache.bytes).toBeLessThanOrEqual(budget);
        expect(cache.bytes).toBeGreaterThan(0);
        // New entries keep the total within the budget too.
        const [more] = await store.append([{ entry: { room, user, text: 'é'.repeat(4000), ts: 99 } }]);
        if ('entry' in more) cache.add(more.entry);
        expect(cache.bytes).toBeLessThanOrEqual(budget);
      }
      // The most recently read room is still held (no load); the least recently read was evicted (a load).
      loads = 0;
      await cache.before('r99', undefined, 10);
      expect(loads).toBe(0);
      await cache.before('r0', undefined, 10);
      expect(loads).toBeGreaterThan(0);
      const page = JSON.parse((await cache.before('r0', undefined, 100)).json) as Entry[];
      expect(page.map((e) => e.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
      expect(cache.bytes).toBeLessThanOrEqual(budget);
      for (let r = 0; r < 100; r++) cache.drop(`r${r}`);
      expect(cache.bytes).toBe(0);
    } finally {
      await store.close();
    }
  });
});
