import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { RedlockService } from '../../lib/index.js';
import { OrdersRepository } from '../src/orders/orders.repository.js';
import { OrdersService } from '../src/orders/orders.service.js';
import { ADAPTERS, startShop, type ShopUnderTest } from './support/shop-under-test.js';
import { timed } from './support/timing.js';

const PAY_GAP_MS = 40;

describe.each(ADAPTERS)('orders on %s', (adapter) => {
  let shop: ShopUnderTest;
  const open = async (id: string): Promise<void> => {
    await request(shop.url).put(`/orders/${id}`).expect(200);
  };
  const payAll = (ids: readonly string[], route = 'pay') =>
    Promise.all(ids.map((id) => request(shop.url).post(`/orders/${id}/${route}`).send({ amountCents: 250 })));

  beforeAll(async () => {
    shop = await startShop(adapter, { payGapMs: PAY_GAP_MS });
  });
  afterAll(async () => {
    await shop?.close();
  });

  it('serializes concurrent payments of one order: the final state counts every one', async () => {
    await open('serial');
    const responses = await payAll(Array(15).fill('serial'));
    expect(responses.map((r) => r.status)).toEqual(Array(15).fill(201));
    const order = await request(shop.url).get('/orders/serial').expect(200);
    expect(order.body).toMatchObject({ id: 'serial', payments: 15, paidCents: 15 * 250 });
  });

  it('runs payments of different orders in parallel, measurably faster than the same order', async () => {
    const n = 10;
    const different = Array.from({ length: n }, (_, i) => `parallel-${i}`);
    await Promise.all([...different, 'same'].map(open));

    const sameMs = await timed(() => payAll(Array(n).fill('same')));
    const differentMs = await timed(() => payAll(different));

    // One order: n read-pause-write cycles one after the other. n orders: side by side.
    expect(sameMs).toBeGreaterThanOrEqual(n * PAY_GAP_MS);
    expect(differentMs * 2).toBeLessThan(sameMs);
    const orders = await Promise.all(different.map((id) => shop.app.get(OrdersRepository).find(id)));
    expect(orders.map((order) => order?.payments)).toEqual(Array(n).fill(1));
  });

  it('answers 409 with Retry-After while the order is locked elsewhere (wait: 0)', async () => {
    await open('busy');
    const lock = await shop.app.get(RedlockService).acquire('order:busy');
    try {
      const busy = await request(shop.url).post('/orders/busy/pay-now');
      expect(busy.status).toBe(409);
      expect(busy.headers['retry-after']).toMatch(/^\d+$/);
    } finally {
      await lock.release();
    }
    await request(shop.url).post('/orders/busy/pay-now').expect(201);
  });

  it("passes the handler's own HttpExceptions through with their status, and frees the lock", async () => {
    const missing = await request(shop.url).get('/orders/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ statusCode: 404, message: 'order nope does not exist' });

    // Thrown inside the locked handler: still a 404, not a 409/500.
    await request(shop.url).post('/orders/nope/pay').expect(404);
    await open('invalid');
    await request(shop.url).post('/orders/invalid/pay').send({ amountCents: -5 }).expect(400);

    const redlock = shop.app.get(RedlockService);
    for (const key of ['order:nope', 'order:invalid']) {
      const lock = await redlock.tryAcquire(key);
      expect(lock).not.toBeNull();
      await lock?.release();
    }
  });

  it('locks the service method by its key function for callers outside HTTP too', async () => {
    await open('direct');
    const order = (await shop.app.get(OrdersRepository).find('direct'))!;
    const payments = shop.app.get(OrdersService);
    await Promise.all(Array.from({ length: 6 }, () => payments.pay(order, 100)));
    expect(await shop.app.get(OrdersRepository).find('direct')).toMatchObject({ payments: 6, paidCents: 600 });
  });
});
