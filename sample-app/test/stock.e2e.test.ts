import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { RedlockService } from '../../lib/index.js';
import { StockDatabase } from '../src/stock/stock-database.js';
import { StockRepository } from '../src/stock/stock.repository.js';
import { StockService } from '../src/stock/stock.service.js';
import { ADAPTERS, startShop, type ShopUnderTest } from './support/shop-under-test.js';
import { DATABASE_KINDS, schemaExists } from './support/test-database.js';

// The fenced stock update on real lock nodes and a real PostgreSQL: the embedded PGlite always,
// and the server of DATABASE_URL too when it is set (CI sets it).
const CASES = ADAPTERS.flatMap((adapter) => DATABASE_KINDS.map((database) => [adapter, database] as const));

describe.each(CASES)('fenced stock on %s with %s', (adapter, database) => {
  let shop: ShopUnderTest;

  beforeAll(async () => {
    shop = await startShop(adapter, { payGapMs: 20, database });
    // The database opens on first use; PGlite's WASM takes seconds to load (more on a busy
    // machine), so it opens here rather than inside the first test's time.
    await shop.app.get(StockDatabase).database();
  }, 60_000);
  afterAll(async () => {
    await shop?.close();
  });

  const restock = async (sku: string, quantity: number) =>
    (await request(shop.url).put(`/stock/${sku}`).send({ quantity }).expect(200)).body as { fence: number };

  it('concurrent reservations never oversell, and every writer carries a larger fence', async () => {
    const { fence: first } = await restock('widget', 10);
    const responses = await Promise.all(
      Array.from({ length: 15 }, () => request(shop.url).post('/stock/widget/reserve').send({ count: 1 })),
    );
    const served = responses.filter((r) => r.status === 201);
    const refused = responses.filter((r) => r.status !== 201);
    expect(served).toHaveLength(10);
    expect(refused.map((r) => [r.status, (r.body as { message: string }).message])).toEqual(
      Array(5).fill([409, 'only 0 of widget left, 1 asked']),
    );
    // Each served reservation saw the one before it: quantities 9..0, each once.
    const left = served.map((r) => (r.body as { quantity: number }).quantity).sort((a, b) => a - b);
    expect(left).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The holder who left fewer units came later, so its fence is larger.
    const byOrder = served.map((r) => r.body as { quantity: number; fence: number }).sort((a, b) => b.quantity - a.quantity);
    for (let i = 0; i < byOrder.length; i += 1) expect(byOrder[i].fence).toBeGreaterThan(i === 0 ? first : byOrder[i - 1].fence);
    const row = await request(shop.url).get('/stock/widget').expect(200);
    expect(row.body).toEqual({ sku: 'widget', quantity: 0, fence: byOrder[9].fence });
  });

  it('the database refuses a write with a fence older than the row\'s, and allows the same fence again', async () => {
    const { fence } = await restock('gadget', 5);
    await request(shop.url).post('/stock/gadget/reserve').send({ count: 2 }).expect(201);
    const repository = shop.app.get(StockRepository);
    const now = (await repository.find('gadget'))!;
    expect(now).toMatchObject({ quantity: 3 });
    expect(now.fence).toBeGreaterThan(fence);

    expect(await repository.writeQuantity('gadget', 999, now.fence - 1)).toBe(false);
    expect(await repository.restock('gadget', 999, fence)).toBe(false);
    expect(await repository.find('gadget')).toEqual(now);

    expect(await repository.writeQuantity('gadget', 2, now.fence)).toBe(true);
    expect(await repository.find('gadget')).toEqual({ ...now, quantity: 2 });
  });

  it('a holder paused past its lease cannot reserve after a newer holder did: 409, nothing changed', async () => {
    await restock('gizmo', 4);
    // The stale holder: a fenced lock on stock:gizmo that is never extended, then a pause
    // longer than its lease (the lock nodes let it go; the holder does not know).
    const stale = await shop.app.get(RedlockService).acquire('stock:gizmo', { fenced: true, ttl: 200 });
    await sleep(300);
    const fresh = await request(shop.url).post('/stock/gizmo/reserve').send({ count: 1 }).expect(201);
    expect((fresh.body as { fence: number }).fence).toBeGreaterThan(stale.fence!);

    // It wakes up and goes on with its reservation, fence and all.
    const late = shop.app.get(StockService).reserve('gizmo', 3, stale.fence!);
    await expect(late).rejects.toMatchObject({ status: 409, message: expect.stringContaining('newer lock holder') });
    expect(await shop.app.get(StockRepository).find('gizmo')).toMatchObject({ quantity: 3, fence: (fresh.body as { fence: number }).fence });
  });

  it('answers 400 to a bad body and 404 to an unknown product', async () => {
    await request(shop.url).put('/stock/bad').send({ quantity: -1 }).expect(400);
    await request(shop.url).post('/stock/bad/reserve').send({ count: 0 }).expect(400);
    await request(shop.url).get('/stock/never-stocked').expect(404);
  });
});

// Only with DATABASE_URL: PGlite keeps nothing once the app has closed it.
(DATABASE_KINDS.includes('PostgreSQL') ? describe : describe.skip)('the e2e run on PostgreSQL', () => {
  it('keeps its rows in a schema of its own and drops it when the shop closes', async () => {
    const shop = await startShop('express', { database: 'PostgreSQL' });
    try {
      await request(shop.url).put('/stock/temp').send({ quantity: 1 }).expect(200);
      expect(await schemaExists(shop.database.url!, shop.database.schema)).toBe(true);
    } finally {
      await shop.close();
    }
    expect(await schemaExists(shop.database.url!, shop.database.schema)).toBe(false);
  });
});
