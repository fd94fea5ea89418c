import { Limiter, Rate } from '../../src/limits/limiter';
import { ChatError } from '../../src/protocol/errors';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The Limiter contract (src/limits/limiter.ts), run against every implementation. `make`
 * gives a fresh, empty limiter each call; several from one `make` stand for processes
 * sharing one backend when `shared` is true.
 */
export function limiterContract(name: string, make: () => Promise<Limiter>, shared: () => Promise<Limiter[]>): void {
  describe(`limiter contract: ${name}`, () => {
    const opened: Limiter[] = [];
    const open = async () => {
      const limiter = await make();
      opened.push(limiter);
      return limiter;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((l) => l.close()));
    });

    test('a rate allows `limit` at once, then refuses with the wait until one more fits; after the wait it fits', async () => {
      const limiter = await open();
      const rate: Rate = { limit: 3, windowMs: 600 };
      for (let i = 0; i < 3; i++) expect((await limiter.take('k', [rate])).ok).toBe(true);
      const refused = await limiter.take('k', [rate]);
      expect(refused.ok).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(200);
      await sleep(refused.retryAfterMs + 30);
      expect((await limiter.take('k', [rate])).ok).toBe(true);
      expect((await limiter.take('k', [rate])).ok).toBe(false);
    });

    test('keys are independent', async () => {
      const limiter = await open();
      const rate: Rate = { limit: 1, windowMs: 60_000 };
      expect((await limiter.take('a', [rate])).ok).toBe(true);
      expect((await limiter.take('a', [rate])).ok).toBe(false);
      expect((await limiter.take('b', [rate])).ok).toBe(true);
    });

    test('all or nothing across rates: a refusal counts nothing, and the wait is the longest', async () => {
      const limiter = await open();
      const rates: Rate[] = [
        { limit: 2, windowMs: 60_000 },
        { limit: 5, windowMs: 3_600_000 },
      ];
      expect((await limiter.take('k', rates)).ok).toBe(true);
      expect((await limiter.take('k', rates)).ok).toBe(true);
      const refused = await limiter.take('k', rates);
      expect(refused.ok).toBe(false);
      // The minute rate is the one full: one more fits in 30 s.
      expect(refused.retryAfterMs).toBeGreaterThan(25_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(30_000);
      // The refused takes counted nothing on the hour rate: it still holds 3 more.
      const hourOnly = [{ limit: 5, windowMs: 3_600_000 }];
      for (let i = 0; i < 3; i++) expect((await limiter.take('k', hourOnly)).ok).toBe(true);
      expect((await limiter.take('k', hourOnly)).ok).toBe(false);
    });

    test('cost counts several units; a cost above the limit never fits', async () => {
      const limiter = await open();
      const bytes: Rate = { limit: 1000, windowMs: 86_400_000 };
      expect((await limiter.take('bytes', [bytes], 600)).ok).toBe(true);
      const over = await limiter.take('bytes', [bytes], 600);
      expect(over.ok).toBe(false);
      expect(over.retryAfterMs).toBeGreaterThan(0);
      expect((await limiter.take('bytes', [bytes], 400)).ok).toBe(true);
      const never = await limiter.take('other', [bytes], 1001);
      expect(never.ok).toBe(false);
      expect(never.retryAfterMs).toBeGreaterThan(86_400_000);
    });

    test('acquire holds at most `max` places; release gives one back, twice is harmless', async () => {
      const limiter = await open();
      const a = await limiter.acquire('sockets', 2);
      const b = await limiter.acquire('sockets', 2);
      expect(a).toBeDefined();
      expect(b).toBeDefined();
      expect(await limiter.acquire('sockets', 2)).toBeUndefined();
      expect(await limiter.acquire('elsewhere', 2)).toBeDefined();
      a!.release();
      a!.release();
      // Release is not awaited by callers: give a networked backend a moment.
      await sleep(50);
      const c = await limiter.acquire('sockets', 2);
      expect(c).toBeDefined();
      expect(await limiter.acquire('sockets', 2)).toBeUndefined();
    });

    test('a closed limiter refuses with unavailable; health says down', async () => {
      const limiter = await make();
      expect((await limiter.health()).state).toBe('up');
      await limiter.close();
      await limiter.close();
      await expect(limiter.take('k', [{ limit: 1, windowMs: 1000 }])).rejects.toMatchObject({ code: 'unavailable' });
      await expect(limiter.acquire('k', 1)).rejects.toBeInstanceOf(ChatError);
      expect((await limiter.health()).state).toBe('down');
    });

    test('limiters sharing a backend share the counts (processes of one deployment)', async () => {
      const [one, two] = await shared();
      opened.push(one, two);
      const rate: Rate = { limit: 2, windowMs: 60_000 };
      expect((await one.take('u', [rate])).ok).toBe(true);
      expect((await two.take('u', [rate])).ok).toBe(true);
      expect((await one.take('u', [rate])).ok).toBe(false);
      expect((await two.take('u', [rate])).ok).toBe(false);
      const lease = await one.acquire('ip', 1);
      expect(lease).toBeDefined();
      expect(await two.acquire('ip', 1)).toBeUndefined();
      lease!.release();
      await sleep(50);
      expect(await two.acquire('ip', 1)).toBeDefined();
    });

    test('concurrent takes never let more than the limit through', async () => {
      const limiter = await open();
      const rate: Rate = { limit: 10, windowMs: 60_000 };
      const verdicts = await Promise.all(Array.from({ length: 50 }, () => limiter.take('race', [rate])));
      expect(verdicts.filter((v) => v.ok)).toHaveLength(10);
    });
  });
}
