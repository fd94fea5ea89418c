import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { tempDataDir } from '../helpers/server';
import { storeContract } from './store-contract';

storeContract('sqlite', async () => {
  const file = path.join(tempDataDir(), 'nested', 'gif-chat.db');
  return { store: openSqliteStore(file), reopen: async () => openSqliteStore(file) };
});

describe('sqlite store: WAL checkpoints in a worker thread', () => {
  test('committed pages reach the database file without a commit checkpointing, and close removes the WAL', async () => {
    const file = path.join(tempDataDir(), 'wal.db');
    const store = openSqliteStore(file);
    const owner = { id: 'u1', name: 'Ann', color: '#123456' };
    await store.commit([{ op: 'createRoom', room: { id: 'r1', title: 'T', max: 10, passwordHash: null, owner, createdAt: 1 } }]);
    const before = fs.statSync(file).size;
    for (let batch = 0; batch < 20; batch++) {
      await store.commit(
        Array.from({ length: 100 }, (_, i) => ({ op: 'append' as const, entry: { room: 'r1', seq: batch * 100 + i + 1, user: owner, text: 'x'.repeat(200), ts: 1 } })),
      );
    }
    // Commits never checkpoint (wal_autocheckpoint = 0): the pages reach the file only through the worker.
    const deadline = Date.now() + 5000;
    while (fs.statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fs.statSync(file).size).toBeGreaterThan(before + 200 * 1000);
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
    await store.close();
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const again = openSqliteStore(file);
    expect((await again.entriesAfter('r1', 0, 5000)).length).toBe(2000);
    await again.close();
  });

  test('writes that never pause still leave the WAL bounded: the checkpointer rewinds it past its limit', async () => {
    const file = path.join(tempDataDir(), 'busy.db');
    const walSizeLimit = 256 * 1024;
    const store = openSqliteStore(file, { checkpointIntervalMs: 20, walSizeLimit });
    const owner = { id: 'u1', name: 'Ann', color: '#123456' };
    const rooms = Array.from({ length: 20 }, (_, i) => `r${i}`);
    await store.commit(rooms.map((id) => ({ op: 'createRoom' as const, room: { id, title: id, max: 10, passwordHash: null, owner, createdAt: 1 } })));
    let seq = 0;
    let largest = 0;
    const stopAt = Date.now() + 2000;
    // A commit touching several rooms every millisecond: a passive checkpoint is never caught up.
    while (Date.now() < stopAt) {
      await new Promise((r) => setTimeout(r, 1));
      seq++;
      await store.commit(rooms.slice(seq % 4, (seq % 4) + 8).map((room) => ({ op: 'append' as const, entry: { room, seq, user: owner, text: 'x'.repeat(100), ts: 1 } })));
      if (seq % 20 === 0) largest = Math.max(largest, fs.statSync(`${file}-wal`).size);
    }
    // Tens of MB of WAL go through here; it stays within a few times the limit.
    expect(seq).toBeGreaterThan(500);
    expect(largest).toBeLessThan(16 * walSizeLimit);
    expect((await store.entriesAfter('r4', 0, 100_000)).length).toBe(seq);
    await store.close();
  });

  test('a commit while another connection holds the write lock waits without blocking the event loop', async () => {
    const file = path.join(tempDataDir(), 'locked.db');
    const store = openSqliteStore(file);
    const owner = { id: 'u1', name: 'Ann', color: '#123456' };
    await store.commit([{ op: 'createRoom', room: { id: 'r1', title: 'T', max: 10, passwordHash: null, owner, createdAt: 1 } }]);
    // Another connection (as the checkpointer is while it rewinds the WAL) holds the write lock for 100 ms.
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const release = new Promise<void>((resolve) =>
      setTimeout(() => {
        other.exec('COMMIT');
        resolve();
      }, 100),
    );
    const started = Date.now();
    await store.commit([{ op: 'append', entry: { room: 'r1', seq: 1, user: owner, text: 'waited', ts: 1 } }]);
    clearInterval(ticker);
    await release;
    other.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    // Timers kept firing while the commit waited: SQLite's busy handler did not hold the thread.
    expect(ticks).toBeGreaterThan(5);
    expect((await store.entriesAfter('r1', 0, 10)).map((e) => e.seq)).toEqual([1]);
    await store.close();
  });
});
