import { framePayload } from '../../src/protocol';
import { framesAfter, Push } from '../../src/realtime/push';
import { PresenceBatcher } from '../../src/realtime/presence-batcher';
import { SystemEntry } from '../../src/protocol';

const entry = (seq: number): SystemEntry => ({ room: 'r1', seq, kind: 'joined', user: { id: `u${seq}`, name: `n${seq}`, color: '#123456' }, ts: seq });

/** Splits a buffer of whole frames (short ones, as presence entries are) into their payloads. */
function payloads(buffer: Buffer): unknown[] {
  const out: unknown[] = [];
  for (let at = 0; at < buffer.length; ) {
    const length = buffer[at + 1] & 0x7f;
    const header = length < 126 ? 2 : 4;
    const size = header + (length < 126 ? length : buffer.readUInt16BE(at + 2));
    out.push(JSON.parse(framePayload(buffer.subarray(at, at + size))));
    at += size;
  }
  return out;
}

describe('presence batcher', () => {
  /** What the batcher delivered, by room. */
  const delivered = new Map<string, Push[]>();
  const bus = { publish: (room: string, push: Push) => delivered.get(room)?.push(push) };

  function collect(room: string): Push[] {
    const got: Push[] = [];
    delivered.set(room, got);
    return got;
  }

  test('publishes a quiet room at once, holds what follows until flushed, then sends it as one buffer of frames in seq order', () => {
    const got = collect('room:a');
    const batcher = new PresenceBatcher((topic, m) => bus.publish(topic, m), 60_000);
    batcher.add('room:a', entry(1));
    expect(got.map((m) => m.seq)).toEqual([1]);
    expect(got[0].parts).toBeUndefined();
    batcher.add('room:a', entry(2));
    batcher.add('room:a', entry(3));
    batcher.add('room:a', entry(4));
    expect(got).toHaveLength(1);
    batcher.flush('room:a');
    batcher.flush('room:a'); // nothing left: no second message
    expect(got).toHaveLength(2);
    expect(got[1].seq).toBe(4);
    expect(got[1].parts?.map((p: { seq: number }) => p.seq)).toEqual([2, 3, 4]);
    expect(payloads(got[1].frame)).toEqual([2, 3, 4].map((seq) => ({ event: 'system', data: entry(seq) })));
    batcher.close();
  });

  test('framesAfter keeps only the entries above a floor', () => {
    const got = collect('room:b');
    const batcher = new PresenceBatcher((topic, m) => bus.publish(topic, m), 60_000);
    for (const seq of [3, 4, 5, 6]) batcher.add('room:b', entry(seq));
    batcher.close();
    expect(got.map((m) => m.seq)).toEqual([3, 6]);
    const batch = got[1];
    expect(payloads(framesAfter(batch, 0)!).map((p: any) => p.data.seq)).toEqual([4, 5, 6]);
    expect(payloads(framesAfter(batch, 4)!).map((p: any) => p.data.seq)).toEqual([5, 6]);
    expect(payloads(framesAfter(batch, 5)!).map((p: any) => p.data.seq)).toEqual([6]);
    expect(framesAfter(batch, 6)).toBeNull();
    expect(framesAfter({ frame: Buffer.from('x') }, 100)?.toString()).toBe('x'); // not an entry: always sent
  });

  test('publishes what waits at the next tick, at most one batch per room per interval, and is quiet again after', async () => {
    const c = collect('room:c');
    const d = collect('room:d');
    const batcher = new PresenceBatcher((topic, m) => bus.publish(topic, m), 100);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    batcher.add('room:c', entry(7));
    batcher.add('room:d', entry(8));
    batcher.add('room:d', entry(9));
    batcher.add('room:d', entry(10));
    expect([c.length, d.length]).toEqual([1, 1]);
    await sleep(150); // first tick: d's waiting pair goes out; c had nothing waiting
    expect(c.map((m) => m.seq)).toEqual([7]);
    expect(d.map((m) => m.seq)).toEqual([8, 10]);
    batcher.add('room:d', entry(11)); // d published at the last tick: this one waits for the next
    expect(d).toHaveLength(2);
    await sleep(100);
    expect(d.map((m) => m.seq)).toEqual([8, 10, 11]);
    expect(d[2].parts).toBeUndefined(); // a batch of one is a plain message
    await sleep(250); // two quiet ticks: the room counts as quiet again
    batcher.add('room:d', entry(12));
    expect(d.map((m) => m.seq)).toEqual([8, 10, 11, 12]);
    batcher.close();
  });
});
