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
});
