import { BusMessage, framesAfter } from '../src/bus/bus';
import { createMemoryBus } from '../src/bus/memory-bus';
import { framePayload } from '../src/frame';
import { PresenceBatcher } from '../src/presence-batcher';
import { SystemEntry } from '../src/protocol';

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
  const bus = createMemoryBus();
  afterAll(() => bus.close());

  function collect(topic: string): BusMessage[] {
    const got: BusMessage[] = [];
    bus.subscribe(topic, (m) => got.push(m));
    return got;
  }

  test('holds a topic until flushed, then publishes its entries as one buffer of frames in seq order', () => {
    const got = collect('room:a');
    const batcher = new PresenceBatcher((topic, m) => bus.publish(topic, m), 60_000);
    batcher.add('room:a', entry(1));
    batcher.add('room:a', entry(2));
    batcher.add('room:a', entry(3));
    expect(got).toHaveLength(0);
    batcher.flush('room:a');
    batcher.flush('room:a'); // nothing left: no second message
    expect(got).toHaveLength(1);
    expect(got[0].seq).toBe(3);
    expect(got[0].parts?.map((p) => p.seq)).toEqual([1, 2, 3]);
    expect(payloads(got[0].frame)).toEqual([1, 2, 3].map((seq) => ({ event: 'system', data: entry(seq) })));
    batcher.close();
  });

  test('framesAfter keeps only the entries above a floor', () => {
    const got = collect('room:b');
    const batcher = new PresenceBatcher((topic, m) => bus.publish(topic, m), 60_000);
    for (const seq of [4, 5, 6]) batcher.add('room:b', entry(seq));
    batcher.close();
    const [batch] = got;
    expect(payloads(framesAfter(batch, 0)!).map((p: any) => p.data.seq)).toEqual([4, 5, 6]);
    expect(payloads(framesAfter(batch, 4)!).map((p: any) => p.data.seq)).toEqual([5, 6]);
    expect(payloads(framesAfter(batch, 5)!).map((p: any) => p.data.seq)).toEqual([6]);
    expect(framesAfter(batch, 6)).toBeNull();
    expect(framesAfter({ frame: Buffer.from('x') }, 100)?.toString()).toBe('x'); // not an entry: always sent
  });

  test('publishes every waiting topic by itself within the interval, one entry as a plain message', async () => {
    const c = collect('room:c');
    const d = collect('room:d');
    const batcher = new PresenceBatcher((topic, m) => bus.publish(topic, m), 50);
    batcher.add('room:c', entry(7));
    batcher.add('room:d', entry(8));
    batcher.add('room:d', entry(9));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ seq: 7 });
    expect(c[0].parts).toBeUndefined();
    expect(d.map((m) => m.seq)).toEqual([9]);
    batcher.close();
  });
});
