import { HashQueue, hashPassword, verifyPassword } from '../../src/chat/password';
import { ChatError } from '../../src/protocol/errors';

/** A job that runs until `finish()`. */
function gate() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { done, finish };
}

describe('HashQueue', () => {
  test('runs at most `concurrency` jobs at once, the rest in arrival order', async () => {
    const queue = new HashQueue(2, 10);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const gates = Array.from({ length: 6 }, gate);
    const jobs = gates.map((g, i) =>
      queue.run(async () => {
        running++;
        most = Math.max(most, running);
        order.push(i);
        await g.done;
        running--;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(queue.load).toEqual({ running: 2, waiting: 4 });
    for (const g of gates) g.finish();
    expect(await Promise.all(jobs)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(queue.load).toEqual({ running: 0, waiting: 0 });
  });

  test('past the waiting bound a job is refused at once as unavailable with retryAfterMs, and never runs', async () => {
    const queue = new HashQueue(1, 1);
    const g = gate();
    const first = queue.run(() => g.done);
    const second = queue.run(async () => 'second');
    let ran = false;
    const third = queue.run(async () => {
      ran = true;
    });
    await expect(third).rejects.toMatchObject({ code: 'unavailable', retryAfterMs: expect.any(Number) });
    expect(ran).toBe(false);
    g.finish();
    await first;
    expect(await second).toBe('second');
  });

  test("a job's failure is its caller's; the line goes on. close() refuses what waits", async () => {
    const queue = new HashQueue(1, 5);
    await expect(queue.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await queue.run(async () => 1)).toBe(1);
    const g = gate();
    const running = queue.run(() => g.done);
    const waiting = queue.run(async () => 2);
    queue.close();
    await expect(waiting).rejects.toBeInstanceOf(ChatError);
    g.finish();
    await running;
    await expect(queue.run(async () => 3)).rejects.toMatchObject({ code: 'unavailable' });
  });

  test('hash and verify go through the line', async () => {
    const queue = new HashQueue(1, 0);
    const hash = await hashPassword('sesame', queue);
    expect(await verifyPassword('sesame', hash, queue)).toBe(true);
    expect(await verifyPassword('sesam', hash, queue)).toBe(false);
  });
});
