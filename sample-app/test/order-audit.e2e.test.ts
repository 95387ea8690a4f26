import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { RedlockService } from '../../lib/index.js';
import { ADAPTERS, startShop, type ShopUnderTest } from './support/shop-under-test.js';
import { openSse } from './support/sse-client.js';
import { timed, waitUntil } from './support/timing.js';

describe.each(ADAPTERS)('the audit stream (SSE) on %s', (adapter) => {
  let shop: ShopUnderTest;
  const open = async (id: string): Promise<void> => {
    await request(shop.url).put(`/orders/${id}`).expect(200);
  };
  /** true when nobody holds order:<id> (and leaves it free). */
  const isFree = async (id: string): Promise<boolean> => {
    const lock = await shop.app.get(RedlockService).tryAcquire(`order:${id}`);
    await lock?.release();
    return lock !== null;
  };

  beforeAll(async () => {
    shop = await startShop(adapter);
  });
  afterAll(async () => {
    await shop?.close();
  });

  it('holds the order lock until the stream ends, then frees it', async () => {
    await open('streamed');
    const stream = openSse(`${shop.url}/orders/streamed/audit?ticks=4&everyMs=150`);
    expect((await stream.response).statusCode).toBe(200);
    await stream.waitForEvents(1);

    await request(shop.url).post('/orders/streamed/pay-now').expect(409);

    const events = await stream.ended;
    expect(events).toHaveLength(4);
    expect(JSON.parse(events[3]!)).toMatchObject({ tick: 4, of: 4, order: { id: 'streamed', payments: 0 } });
    await request(shop.url).post('/orders/streamed/pay-now').expect(201);
  });

  it('makes a waiting payment wait for the end of the stream', async () => {
    await open('queued');
    const stream = openSse(`${shop.url}/orders/queued/audit?ticks=5&everyMs=100`);
    await stream.waitForEvents(1);

    let streamEndedFirst = false;
    void stream.ended.then(() => {
      streamEndedFirst = true;
    });
    const waitedMs = await timed(() => request(shop.url).post('/orders/queued/pay').expect(201));
    expect(streamEndedFirst).toBe(true);
    expect(waitedMs).toBeGreaterThan(200);
    expect(stream.events).toHaveLength(5);
  });

  it('frees the lock quickly when the client disconnects mid-stream', async () => {
    await open('abandoned');
    const stream = openSse(`${shop.url}/orders/abandoned/audit?ticks=100&everyMs=100`);
    await stream.waitForEvents(1);
    expect(await isFree('abandoned')).toBe(false);

    stream.disconnect();
    // The stream would run 10 s more: the lock must come free long before.
    const freedAfterMs = await waitUntil(() => isFree('abandoned'), 2_000, 20);
    expect(freedAfterMs).toBeLessThan(1_000);
    await request(shop.url).post('/orders/abandoned/pay-now').expect(201);
  });
});
