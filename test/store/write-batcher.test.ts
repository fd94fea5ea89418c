import path from 'node:path';
import { Logger, silentLogger } from '../../src/logger';
import { ChatError } from '../../src/protocol/errors';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { AppendOp, AppendResult, Store } from '../../src/store/store';
import { MAX_BATCH_OPS, WriteBatcher } from '../../src/store/write-batcher';
import { faultyStore, FaultyStore } from '../helpers/faulty-store';
import { tempDir } from './temp-dir';

const user = { id: 'u1', name: 'Ann', color: '#123456' };
const message = (room: string, text: string): AppendOp => ({ entry: { room, user, text, ts: 1 } });
const seqOf = (result: AppendResult) => ('entry' in result ? result.entry.seq : result.refused);
const textOf = (op: AppendOp) => ('text' in op.entry ? op.entry.text : undefined);
const settled = <T>(promises: Promise<T>[]) => Promise.allSettled(promises);

describe('WriteBatcher', () => {
  let real: Store;
  let store: FaultyStore;
  /** The ops of every store.append call, in call order. */
  let calls: AppendOp[][];
  let counting: Store;

  beforeEach(async () => {
    real = openSqliteStore(path.join(tempDir(), 'batcher.db'));
    for (const id of ['r1', 'r2', 'r3']) await real.createRoom({ id, title: id, max: 10, passwordHash: null, owner: user, createdAt: 1 });
    store = faultyStore(real);
    calls = [];
    // A thin counting wrapper around the (faulty-able) real store.
    counting = {
      ...store,
      append: (ops) => {
        calls.push([...ops]);
        return store.append(ops);
      },
    };
  });
  afterEach(async () => {
    await real.close();
  });

  test('appends queued in one event-loop turn commit in one store.append; the next turn gets the next batch', async () => {
    const batcher = new WriteBatcher(counting, silentLogger);
    const first = [batcher.append(message('r1', 'a')), batcher.append(message('r2', 'b')), batcher.append(message('r1', 'c'))];
    expect(calls).toHaveLength(0); // nothing before the turn ends
    expect((await Promise.all(first)).map(seqOf)).toEqual([1, 1, 2]);
    expect(calls.map((ops) => ops.map(textOf))).toEqual([['a', 'b', 'c']]);
    const second = [batcher.append(message('r1', 'd')), batcher.append(message('r3', 'e'))];
    expect((await Promise.all(second)).map(seqOf)).toEqual([3, 1]);
    expect(calls.map((ops) => ops.length)).toEqual([3, 2]);
  });

  test('batches commit one at a time, in order, even when the next turn comes before the first commit', async () => {
    let inFlight = 0;
    let most = 0;
    const slow: Store = {
      ...counting,
      append: async (ops) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        try {
          return await counting.append(ops);
        } finally {
          inFlight--;
        }
      },
    };
    const batcher = new WriteBatcher(slow, silentLogger);
    const order: string[] = [];
    const a = batcher.append(message('r1', 'a'), () => order.push('a'));
    await new Promise((r) => setImmediate(r)); // the first batch is committing
    const b = batcher.append(message('r1', 'b'), () => order.push('b'));
    expect((await Promise.all([a, b])).map(seqOf)).toEqual([1, 2]);
    expect(most).toBe(1);
    expect(calls).toHaveLength(2);
    expect(order).toEqual(['a', 'b']);
  });

  test('group commit: what queues over many turns while a batch commits becomes one next batch, within MAX_BATCH_OPS', async () => {
    const slow: Store = {
      ...counting,
      append: async (ops) => {
        await new Promise((r) => setTimeout(r, 30));
        return counting.append(ops);
      },
    };
    const batcher = new WriteBatcher(slow, silentLogger);
    const first = batcher.append(message('r1', 'first'));
    await new Promise((r) => setImmediate(r)); // the first batch is committing
    const more: Promise<AppendResult>[] = [];
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 10; i++) more.push(batcher.append(message(`r${(i % 3) + 1}`, `t${turn}-${i}`)));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([first, ...more]);
    expect(calls.map((ops) => ops.length)).toEqual([1, 100]);
    // Order within the batch is queue order: r1's seqs follow the order its texts were queued in.
    const queuedToR1 = ['first'];
    for (let turn = 0; turn < 10; turn++) for (let i = 0; i < 10; i += 3) queuedToR1.push(`t${turn}-${i}`);
    expect((await real.entriesAfter('r1', 0, 1000)).map((e) => ('text' in e ? e.text : ''))).toEqual(queuedToR1);

    // A backlog larger than MAX_BATCH_OPS is split.
    calls = [];
    const held = batcher.append(message('r2', 'hold'));
    await new Promise((r) => setImmediate(r));
    const flood = Array.from({ length: MAX_BATCH_OPS + 5 }, (_, i) => batcher.append(message('r3', `f${i}`)));
    await Promise.all([held, ...flood]);
    expect(calls.map((ops) => ops.length)).toEqual([1, MAX_BATCH_OPS, 5]);
  });

  test('onCommit runs for every op in queue order, with its result, before any promise of the batch resolves', async () => {
    const batcher = new WriteBatcher(counting, silentLogger);
    const events: string[] = [];
    const ops: AppendOp[] = [
      message('r2', 'x'),
      { entry: { room: 'r1', user, text: 'y', ts: 1, nonce: 'n' } },
      { entry: { room: 'r1', user, text: 'y again', ts: 1, nonce: 'n' } },
      message('gone', 'z'),
      message('r1', 'w'),
    ];
    const promises = ops.map((op, i) =>
      batcher
        .append(op, (result) => events.push(`commit ${i}: ${JSON.stringify(seqOf(result))}${'duplicate' in result && result.duplicate ? ' dup' : ''}`))
        .then(() => events.push(`resolve ${i}`)),
    );
    await Promise.all(promises);
    expect(events).toEqual([
      'commit 0: 1',
      'commit 1: 1',
      'commit 2: 1 dup',
      'commit 3: "not_found"',
      'commit 4: 2',
      'resolve 0',
      'resolve 1',
      'resolve 2',
      'resolve 3',
      'resolve 4',
    ]);
    expect(calls).toHaveLength(1);
  });

  test('an onCommit that throws is logged and affects nothing else', async () => {
    const errors: unknown[] = [];
    const logger: Logger = { ...silentLogger, error: (message, err) => errors.push([message, err]) };
    const batcher = new WriteBatcher(counting, logger);
    const boom = new Error('boom');
    const seen: number[] = [];
    const results = await Promise.all([
      batcher.append(message('r1', 'a'), () => {
        throw boom;
      }),
      batcher.append(message('r1', 'b'), (r) => seen.push(seqOf(r) as number)),
    ]);
    expect(results.map(seqOf)).toEqual([1, 2]);
    expect(seen).toEqual([2]);
    expect(errors).toEqual([['after-commit step failed', boom]]);
  });

  test('isolation: a batch that fails is retried op by op; only the faulty op fails, the others commit in order', async () => {
    const batcher = new WriteBatcher(counting, silentLogger);
    store.failWhen((op) => op.entry.room === 'r2');
    const order: string[] = [];
    const ops = [message('r1', 'a'), message('r2', 'bad'), message('r3', 'c'), message('r1', 'd')];
    const outcomes = await settled(ops.map((op) => batcher.append(op, (r) => order.push(`${textOf(op)}:${seqOf(r)}`))));
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? seqOf(o.value) : o.status))).toEqual([1, 'rejected', 1, 2]);
    const failed = outcomes[1] as PromiseRejectedResult;
    expect(failed.reason).toBeInstanceOf(ChatError);
    expect(failed.reason).toMatchObject({ code: 'unavailable', message: 'storage is unavailable: injected fault' });
    expect(order).toEqual(['a:1', 'c:1', 'd:2']);
    // The whole batch once, then each op alone.
    expect(calls.map((c) => c.map(textOf))).toEqual([['a', 'bad', 'c', 'd'], ['a'], ['bad'], ['c'], ['d']]);
    expect((await real.entriesAfter('r1', 0, 10)).map((e) => ('kind' in e ? e.kind : e.text))).toEqual(['a', 'd']);
    expect(await real.entriesAfter('r2', 0, 10)).toEqual([]);
    // Healed: the room's next append gets seq 1, none was used by the failure.
    store.heal();
    expect(seqOf(await batcher.append(message('r2', 'ok')))).toBe(1);
  });

  test('a failing op rejects with its own error; a batch whose every try fails rejects every op', async () => {
    const batcher = new WriteBatcher(counting, silentLogger);
    const mine = new Error('store: append failed: mine');
    store.failWhen((op) => textOf(op) === 'mine', mine);
    const outcomes = await settled([batcher.append(message('r1', 'mine')), batcher.append(message('r1', 'other'))]);
    expect(outcomes[0]).toEqual({ status: 'rejected', reason: mine });
    expect(outcomes[1]).toMatchObject({ status: 'fulfilled', value: { entry: { seq: 1 } } });

    store.heal();
    store.failAppends(3); // the batch and both retries
    const all = await settled([batcher.append(message('r1', 'x')), batcher.append(message('r2', 'y'))]);
    expect(all.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(all.map((o) => (o as PromiseRejectedResult).reason.code)).toEqual(['unavailable', 'unavailable']);
    // A single op is not tried twice.
    calls.length = 0;
    store.failAppends(1);
    await expect(batcher.append(message('r1', 'alone'))).rejects.toMatchObject({ code: 'unavailable' });
    expect(calls).toHaveLength(1);
    // A transient failure: the batch fails, the retries commit.
    store.failAppends(1);
    const retried = await Promise.all([batcher.append(message('r1', 'p')), batcher.append(message('r2', 'q'))]);
    expect(retried.map(seqOf)).toEqual([2, 1]);
  });

  test('a storage that stays stuck is not retried op by op for each op of the batch', async () => {
    // Each try takes as long as a store waiting out a lock before it gives up.
    let tries = 0;
    const stuck: Store = {
      ...store,
      append: async () => {
        tries++;
        await new Promise((r) => setTimeout(r, 300));
        throw new ChatError('unavailable', 'storage is unavailable: the database stayed locked too long');
      },
    };
    const batcher = new WriteBatcher(stuck, silentLogger);
    const outcomes = await settled(Array.from({ length: 10 }, (_, i) => batcher.append(message('r1', `m${i}`))));
    expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as ChatError).code === 'unavailable')).toBe(true);
    expect(tries).toBe(2); // the batch, then the first op alone
  });

  test('drain resolves once everything queued so far has committed or failed, and never rejects', async () => {
    const batcher = new WriteBatcher(counting, silentLogger);
    await batcher.drain(); // nothing queued
    store.failWhen((op) => op.entry.room === 'r3');
    const done: string[] = [];
    const promises = ['r1', 'r2', 'r3'].map((room) =>
      batcher.append(message(room, room)).then(
        () => done.push(room),
        () => done.push(`${room} failed`),
      ),
    );
    await batcher.drain();
    // Every op was settled by the time drain resolves (its handlers run right after).
    await Promise.resolve();
    expect(done.sort()).toEqual(['r1', 'r2', 'r3 failed']);
    await Promise.all(promises);
    // Queued after a drain began: drained too.
    const state: string[] = [];
    void batcher.append(message('r1', 'later')).then((r) => state.push(`later ${seqOf(r)}`));
    const drained = batcher.drain();
    void batcher.append(message('r2', 'later still')).then((r) => state.push(`later still ${seqOf(r)}`));
    await drained;
    expect(state).toEqual(['later 2', 'later still 2']);
  });
});
