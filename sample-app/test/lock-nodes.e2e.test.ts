import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { HealthIndicatorService } from '@nestjs/terminus';
import request from 'supertest';
import { BIRTH_MS } from '../../lib/core/nodes/amnesia-guard.js';
import type { HealthReport } from '../src/health/health-report.js';
import { ContainerRedis } from './support/container-redis.js';
import { ADAPTERS, startShopOn, type ShopUnderTest } from './support/shop-under-test.js';

// Terminus 12 says 'degraded'; Terminus 11 (the NestJS 11 leg) has no such status and says up, with degraded: true.
const TERMINUS_DEGRADES = typeof (new HealthIndicatorService().check('probe') as { degraded?: unknown }).degraded === 'function';

// The shop's lock nodes are Redis containers here (nestjs-redlock/testing's startRedisNodes), as a
// user's own e2e tests would run them: the faults are Docker's (kill, pause, an empty restart).
describe.each(ADAPTERS)('lock nodes (containers) failing on %s', (adapter) => {
  // Fresh nodes per test: killed nodes stay dead, and reconnect back-off would leak into the next test.
  let shop: ShopUnderTest<ContainerRedis>;
  const health = async (): Promise<{ status: number; report: HealthReport }> => {
    const response = await request(shop.url).get('/health');
    return { status: response.status, report: response.body as HealthReport };
  };
  const nodeStatuses = async (): Promise<string[]> => (await health()).report.details.locks.nodes.map((node) => node.status);

  beforeEach(async () => {
    shop = await startShopOn(await ContainerRedis.start(3), adapter);
    await request(shop.url).put('/orders/o1').expect(200);
  });
  afterEach(async () => {
    await shop?.close();
  });

  it('/health reports every node up, then a killed node as down; payments go on with 2 of 3', async () => {
    const before = await health();
    expect(before.status).toBe(200);
    expect(before.report.status).toBe('ok');
    expect(before.report.details.locks.status).toBe('up');
    expect(before.report.details.locks.quorum).toBe(2);
    expect(before.report.details.locks.nodes.map((node) => node.status)).toEqual(['up', 'up', 'up']);
    for (const node of before.report.details.locks.nodes) expect(node.latencyMs).toEqual(expect.any(Number));
    // The deployment has served a lock (its nodes are marked): a brand-new one needs every node
    // to answer once before it counts a node without its marker (rule 15, see the README).
    await request(shop.url).post('/orders/o1/pay').expect(201);

    await shop.redis.lockNodes.nodes[1]!.kill();

    const after = await health();
    expect(after.status).toBe(200);
    expect(after.report.status).toBe(TERMINUS_DEGRADES ? 'degraded' : 'ok');
    expect(after.report.details.locks).toMatchObject({ status: TERMINUS_DEGRADES ? 'degraded' : 'up', degraded: true, nodesUp: 2 });
    expect(after.report.details.locks.nodes.map((node) => node.status)).toEqual(['up', 'down', 'up']);
    expect(after.report.details.locks.nodes[1]!.latencyMs).toBeNull();
    await request(shop.url).post('/orders/o1/pay').expect(201);
  });

  it('answers 503 when two of three lock nodes are down', async () => {
    await shop.redis.lockNodes.nodes[0]!.kill();
    await shop.redis.lockNodes.nodes[2]!.kill();

    const payment = await request(shop.url).post('/orders/o1/pay');
    expect(payment.status).toBe(503);
    const order = await request(shop.url).get('/orders/o1').expect(200);
    expect(order.body).toMatchObject({ payments: 0 });

    const report = await health();
    expect(report.status).toBe(503);
    expect(report.report.status).toBe('error');
    expect(report.report.details.locks.status).toBe('down');
    expect(report.report.details.locks.nodes.map((node) => node.status)).toEqual(['down', 'up', 'down']);
  });

  it('a paused node (connected, silent) costs a payment its node timeout, not a failure; /health shows it down until it is unpaused', async () => {
    await request(shop.url).post('/orders/o1/pay').expect(201);

    await shop.redis.lockNodes.nodes[0]!.pause();

    const started = performance.now();
    await request(shop.url).post('/orders/o1/pay').expect(201);
    // The module's default 10 s lease gives a 500 ms node timeout: the paused node is not waited for past it.
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await nodeStatuses()).toEqual(['down', 'up', 'up']);

    await shop.redis.lockNodes.nodes[0]!.unpause();

    expect(await nodeStatuses()).toEqual(['up', 'up', 'up']);
    await request(shop.url).post('/orders/o1/pay').expect(201);
    const order = await request(shop.url).get('/orders/o1').expect(200);
    expect(order.body).toMatchObject({ payments: 3 });
  });

  it('two nodes restarted empty sit out (rule 15): 503 with Retry-After, and the order is not paid', async () => {
    await request(shop.url).post('/orders/o1/pay').expect(201);
    await sleep(BIRTH_MS + 100); // past the deployment's birth: a node without its marker lost its data

    await Promise.all([shop.redis.lockNodes.nodes[0]!.restartEmpty(), shop.redis.lockNodes.nodes[2]!.restartEmpty()]);
    // They answer again on the same ports: the shop's connections come back by themselves.
    for (let i = 0; i < 100 && (await nodeStatuses()).some((status) => status !== 'up'); i++) await sleep(50);
    expect(await nodeStatuses()).toEqual(['up', 'up', 'up']);

    const payment = await request(shop.url).post('/orders/o1/pay');
    expect(payment.status).toBe(503);
    // They count again after the largest lease recorded (the module's 10 s), which the client says.
    expect(Number(payment.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(payment.headers['retry-after'])).toBeLessThanOrEqual(10);
    const order = await request(shop.url).get('/orders/o1').expect(200);
    expect(order.body).toMatchObject({ payments: 1 });
  });
});
