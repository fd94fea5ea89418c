import { StorageBudget } from '../../src/limits/storage-budget';
import { silentLogger } from '../../src/logger';

describe('storage budget', () => {
  test('full once a measurement reaches the budget, and no longer once room is made; full() is the cached figure', async () => {
    let used = 100;
    let measured = 0;
    const budget = new StorageBudget({ maxBytes: 1000, everyMs: 60_000, logger: silentLogger, measure: async () => (measured++, used) });
    await budget.start();
    expect(budget.full()).toBe(false);
    used = 1000;
    expect(budget.full()).toBe(false); // not measured again yet: asking never measures
    expect(measured).toBe(1);
    await budget.check();
    expect(budget.full()).toBe(true);
    expect(budget.usedBytes()).toBe(1000);
    used = 999;
    await budget.check();
    expect(budget.full()).toBe(false);
    budget.close();
    budget.close();
  });

  test('a failed measurement keeps the last figure; concurrent checks share one measurement', async () => {
    let fail = false;
    let measured = 0;
    const budget = new StorageBudget({
      maxBytes: 10,
      everyMs: 60_000,
      logger: silentLogger,
      measure: async () => {
        measured++;
        if (fail) throw new Error('disk gone');
        return 50;
      },
    });
    await budget.start();
    expect(budget.full()).toBe(true);
    fail = true;
    await Promise.all([budget.check(), budget.check(), budget.check()]);
    expect(measured).toBe(2);
    expect(budget.full()).toBe(true);
    budget.close();
  });

  test('no budget (0): nothing is measured, never full', async () => {
    let measured = 0;
    const budget = new StorageBudget({ maxBytes: 0, logger: silentLogger, measure: async () => (measured++, 1e12) });
    await budget.start();
    await budget.check();
    expect(measured).toBe(0);
    expect(budget.full()).toBe(false);
    budget.close();
  });
});
