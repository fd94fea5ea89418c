import { Bus, BusMessage } from '../../src/bus/bus';

/** The behaviour every Bus implementation must have. */
export function busContract(name: string, open: () => Promise<Bus>): void {
  describe(`${name} bus contract`, () => {
    let bus: Bus;
    beforeEach(async () => {
      bus = await open();
    });
    afterEach(async () => {
      await bus.close();
    });
    const flush = () => new Promise((r) => setImmediate(r));
    const msg = (text: string, seq?: number): BusMessage => ({ frame: Buffer.from(text), seq });

    test('delivers to every subscriber of the topic, in publish order, and to no other topic', async () => {
      const got: string[] = [];
      bus.subscribe('room:a', (m) => got.push(`1:${m.frame}`));
      bus.subscribe('room:a', (m) => got.push(`2:${m.frame}`));
      bus.subscribe('room:b', (m) => got.push(`b:${m.frame}`));
      for (let i = 0; i < 3; i++) bus.publish('room:a', msg(`m${i}`, i));
      await flush();
      expect(got.filter((x) => x.startsWith('1:'))).toEqual(['1:m0', '1:m1', '1:m2']);
      expect(got.filter((x) => x.startsWith('2:'))).toEqual(['2:m0', '2:m1', '2:m2']);
      expect(got.some((x) => x.startsWith('b:'))).toBe(false);
    });

    test('carries seq and exceptUser; unsubscribe stops delivery', async () => {
      const got: BusMessage[] = [];
      const stop = bus.subscribe('t', (m) => got.push(m));
      bus.publish('t', { frame: Buffer.from('x'), seq: 7, exceptUser: 'u_1' });
      await flush();
      expect(got[0]).toMatchObject({ seq: 7, exceptUser: 'u_1' });
      expect(got[0].frame.toString()).toBe('x');
      stop();
      stop();
      bus.publish('t', msg('y'));
      await flush();
      expect(got).toHaveLength(1);
    });
  });
}
