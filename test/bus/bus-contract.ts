import { Bus, BusEvent } from '../../src/bus/bus';

const alice = { id: 'u_a', name: 'Alice', color: '#c0392b' };
const entry = (seq: number): BusEvent => ({ type: 'entry', entry: { room: 'r', seq, user: alice, text: `m${seq}`, ts: seq } });

/** The behaviour every Bus implementation must have (see the guarantees in src/bus/bus.ts). */
export function busContract(name: string, open: () => Promise<Bus>): void {
  describe(`${name} bus contract`, () => {
    let bus: Bus;
    beforeEach(async () => {
      bus = await open();
    });
    afterEach(async () => {
      await bus.close();
    });
    /** Waits until `check` holds (a networked bus delivers asynchronously), at most 2 s. */
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 2000;
      while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };
    const seqOf = (e: BusEvent) => (e.type === 'entry' ? e.entry.seq : -1);

    test('once subscribe resolves, every event of one publisher arrives to every subscriber of the topic, in order, and to no other topic', async () => {
      const one: number[] = [];
      const two: number[] = [];
      const other: number[] = [];
      await bus.subscribe('room:a', (e) => one.push(seqOf(e)));
      await bus.subscribe('room:a', (e) => two.push(seqOf(e)));
      await bus.subscribe('room:b', (e) => other.push(seqOf(e)));
      for (let i = 1; i <= 50; i++) bus.publish('room:a', entry(i));
      await until(() => one.length === 50 && two.length === 50);
      const expected = Array.from({ length: 50 }, (_, i) => i + 1);
      expect(one).toEqual(expected);
      expect(two).toEqual(expected);
      expect(other).toEqual([]);
    });

    test('events carry their facts intact', async () => {
      const got: BusEvent[] = [];
      await bus.subscribe('user:u_a', (e) => got.push(e));
      const whisper: BusEvent = { type: 'whisper', whisper: { id: 'w_1', from: alice, to: alice, text: 'psst ✓', ts: 5 } };
      bus.publish('user:u_a', whisper);
      bus.publish('user:u_a', { type: 'kicked', room: 'r_1', user: 'u_a', until: 7 });
      await until(() => got.length === 2);
      expect(got).toEqual([whisper, { type: 'kicked', room: 'r_1', user: 'u_a', until: 7 }]);
    });

    test('the function subscribe resolves with stops delivery at once, and is safe to call twice', async () => {
      const got: number[] = [];
      const stop = await bus.subscribe('t', (e) => got.push(seqOf(e)));
      bus.publish('t', entry(1));
      await until(() => got.length === 1);
      stop();
      stop();
      bus.publish('t', entry(2));
      await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual([1]);
    });

    test("stopping one handler leaves the topic's others receiving; a topic dropped and followed again delivers again", async () => {
      const one: number[] = [];
      const two: number[] = [];
      const stopOne = await bus.subscribe('room:again', (e) => one.push(seqOf(e)));
      const stopTwo = await bus.subscribe('room:again', (e) => two.push(seqOf(e)));
      stopOne();
      bus.publish('room:again', entry(1));
      await until(() => two.length === 1);
      expect(two).toEqual([1]);
      stopTwo();
      const three: number[] = [];
      await bus.subscribe('room:again', (e) => three.push(seqOf(e)));
      bus.publish('room:again', entry(2));
      await until(() => three.length === 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(one).toEqual([]);
      expect(two).toEqual([1]);
      expect(three).toEqual([2]);
    });

    test('publishing to a topic nobody subscribed costs nothing and throws nothing', async () => {
      expect(() => bus.publish('room:nobody', entry(1))).not.toThrow();
    });
  });
}
