import { Flusher } from '../../src/realtime/flusher';

describe('flusher', () => {
  test('flushes after the current callback and its microtasks, first-listed items ahead', async () => {
    const flusher = new Flusher();
    const order: string[] = [];
    const item = (name: string) => {
      let queued = false;
      return {
        queue() {
          queued = true;
        },
        flush() {
          if (queued) order.push(name);
          queued = false;
        },
      };
    };
    const [a, b, sender] = [item('a'), item('b'), item('sender')];
    for (const x of [a, b, sender]) {
      x.queue();
      flusher.add(x);
    }
    // An ack queued in a microtask after the pushes still leaves first.
    await Promise.resolve().then(() => flusher.addFirst(sender));
    expect(order).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['sender', 'a', 'b']);
  });

  test('join builds one buffer for sockets sent the same frames, and a fresh one otherwise', () => {
    const flusher = new Flusher();
    const [a, b, c] = ['{"a":1}', '{"b":2}', '{"c":3}'].map((t) => Buffer.from(t));
    const first = flusher.join([a, b], a.length + b.length);
    expect(first.toString()).toBe('{"a":1}{"b":2}');
    // Another socket of the room: the same frames, so the same buffer.
    expect(flusher.join([a, b], a.length + b.length)).toBe(first);
    // Equal bytes in other frames, another order, another length: built anew.
    const a2 = Buffer.from('{"a":1}');
    expect(flusher.join([a2, b], a2.length + b.length)).not.toBe(first);
    expect(flusher.join([b, a], a.length + b.length).toString()).toBe('{"b":2}{"a":1}');
    expect(flusher.join([b, a, c], a.length + b.length + c.length).toString()).toBe('{"b":2}{"a":1}{"c":3}');
  });
});
