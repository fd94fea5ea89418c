import { Flusher } from '../src/flusher';

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
});
