import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataStore } from '../src/data/data-store.js';
import { CLEANUP_RUNS_KEY, CleanupJob, STALE_AFTER_MS } from '../src/jobs/cleanup.job.js';
import { OrdersRepository } from '../src/orders/orders.repository.js';
import { ADAPTERS, startShop, type ShopUnderTest } from './support/shop-under-test.js';

describe.each(ADAPTERS)('the cleanup job on %s', (adapter) => {
  let shop: ShopUnderTest;
  const runs = async (): Promise<number> => Number((await shop.app.get(DataStore).redis.get(CLEANUP_RUNS_KEY)) ?? 0);

  beforeAll(async () => {
    shop = await startShop(adapter);
  });
  afterAll(async () => {
    await shop?.close();
  });

  it('runs on only one of two concurrent invocations; the other skips at once', async () => {
    const job = shop.app.get(CleanupJob);
    const before = await runs();

    const results = await Promise.all([job.run(), job.run()]);

    expect(results.filter((result) => result === undefined)).toHaveLength(1);
    expect(results.find((result) => result !== undefined)).toEqual({ scanned: expect.any(Number), removed: expect.any(Number) });
    expect(await runs()).toBe(before + 1);
    // Skipping released nothing it did not hold: the next run goes ahead.
    expect(await job.run()).toBeDefined();
  });

  it('removes abandoned unpaid orders and keeps the others', async () => {
    const orders = shop.app.get(OrdersRepository);
    const longAgo = Date.now() - STALE_AFTER_MS - 1_000;
    await orders.open('stale', longAgo);
    await orders.save({ id: 'paid-long-ago', payments: 1, paidCents: 100, createdAt: longAgo });
    await orders.open('fresh');

    const report = await shop.app.get(CleanupJob).run();

    expect(report?.removed).toBe(1);
    expect(await orders.find('stale')).toBeUndefined();
    expect(await orders.find('paid-long-ago')).toBeDefined();
    expect(await orders.find('fresh')).toBeDefined();
  });
});
