import path from 'node:path';
import { HistoryCache } from '../src/history-cache';
import { Entry } from '../src/protocol';
import { openSqliteStore } from '../src/store/sqlite-store';
import { tempDataDir } from './helpers/server';

const user = { id: 'u_a', name: 'A', color: '#c0392b' };

describe('history cache', () => {
  test('answers exactly what the store answers, across capacity, trims and boundaries', async () => {
    const store = openSqliteStore(path.join(tempDataDir(), 'gif-chat.db'));
    try {
      await store.commit([{ op: 'createRoom', room: { id: 'r', title: 't', max: 10, passwordHash: null, owner: user, createdAt: 1 } }]);
      const cache = new HistoryCache(store, 5);
      const commit = async (seq: number) => {
        const entry: Entry = { room: 'r', seq, user, text: `m${seq}`, ts: seq };
        await store.commit([{ op: 'append', entry }]);
        cache.add(entry);
      };
      const compare = async () => {
        const last = (await store.entriesBefore('r', undefined, 1))[0]?.seq ?? 0;
        for (const limit of [1, 3, 5, 8]) {
          expect(await cache.before('r', undefined, limit)).toEqual(await store.entriesBefore('r', undefined, limit));
          for (let b = 1; b <= last + 1; b++) expect(await cache.before('r', b, limit)).toEqual(await store.entriesBefore('r', b, limit));
          for (let since = 0; since <= last; since++) expect(await cache.after('r', since, limit)).toEqual(await store.entriesAfter('r', since, limit));
        }
      };
      await compare(); // empty room
      for (let seq = 1; seq <= 3; seq++) await commit(seq);
      await compare(); // the whole history fits
      for (let seq = 4; seq <= 12; seq++) await commit(seq);
      await compare(); // trimmed: older pages come from the store
      cache.drop('r');
      await compare(); // reloaded from the store
    } finally {
      await store.close();
    }
  });
});
